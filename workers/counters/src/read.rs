//! Reading counters back: a window ending now is answered from the finest
//! resolution that still keeps it in at most [`MAX_BUCKETS`] buckets, summing
//! every bucket that overlaps the window, in one pipelined round trip.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::CountersError;
use crate::latency::{Percentiles, BUCKETS};
use crate::layout::{Family, Layout, Step};
use crate::plan::{push_clean, REVENUE_SCALE};
use crate::store::RedisStore;

/// Most buckets one read sums.
pub const MAX_BUCKETS: i64 = 360;

/// A window of time ending at `end` (unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub end: i64,
    pub secs: i64,
}

impl Window {
    pub fn ending_now(length: Duration) -> Result<Self, CountersError> {
        Self::ending_at(time::OffsetDateTime::now_utc(), length)
    }

    pub fn ending_at(end: time::OffsetDateTime, length: Duration) -> Result<Self, CountersError> {
        let secs = i64::try_from(length.as_secs()).unwrap_or(i64::MAX);
        if secs == 0 {
            return Err(CountersError::invalid("the window must be at least 1s"));
        }
        Ok(Self {
            end: end.unix_timestamp(),
            secs,
        })
    }
}

/// A count over a window, and the bucket width it was read at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub value: u64,
    pub step_s: i64,
    /// Per bucket, oldest first: (bucket start, count).
    pub series: Vec<(i64, u64)>,
}

pub struct Reader {
    conn: ConnectionManager,
    layout: Layout,
}

impl Reader {
    pub fn new(store: &RedisStore) -> Self {
        Self {
            conn: store.connection(),
            layout: store.layout().clone(),
        }
    }

    /// The finest resolution that keeps the whole window in few enough buckets.
    pub fn step_for(&self, window: Window) -> Step {
        step_for(
            self.layout.steps(),
            window,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
    }

    fn buckets(step: Step, window: Window) -> impl Iterator<Item = i64> {
        let first = step.bucket(window.end - window.secs + 1);
        let last = step.bucket(window.end);
        (first..=last).step_by(step.secs as usize)
    }

    /// Events matching a selector (`total`, `kind=error`, `service=api,kind=error`...).
    pub async fn count(&self, selector: &str, window: Window) -> Result<Count, CountersError> {
        let field = parse_selector(selector)?;
        self.counts(&field, self.step_for(window), window).await
    }

    /// Events matching a selector per bucket of exactly `step_secs` (one of the
    /// configured resolutions), over the whole window: a series read at a
    /// chosen grain whatever its length (the anomaly detector's input). The
    /// window's part older than the resolution keeps is not read.
    pub async fn count_at(
        &self,
        selector: &str,
        window: Window,
        step_secs: i64,
    ) -> Result<Count, CountersError> {
        let field = parse_selector(selector)?;
        let step = self
            .layout
            .steps()
            .iter()
            .copied()
            .find(|s| s.secs == step_secs)
            .ok_or_else(|| {
                let kept: Vec<String> = self
                    .layout
                    .steps()
                    .iter()
                    .map(|s| format!("{}s", s.secs))
                    .collect();
                CountersError::invalid(format!(
                    "no resolution of {step_secs}s is kept (configured: {})",
                    kept.join(", ")
                ))
            })?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let oldest = (now - step.keep_secs).max(window.end - window.secs);
        let window = Window {
            end: window.end,
            secs: (window.end - oldest).max(1),
        };
        self.counts(&field, step, window).await
    }

    /// `field`'s count per bucket of `step` over the window, in pipelined
    /// round trips of at most 1,000 reads (two days of minutes is 2,880).
    async fn counts(
        &self,
        field: &str,
        step: Step,
        window: Window,
    ) -> Result<Count, CountersError> {
        let starts: Vec<i64> = Self::buckets(step, window).collect();
        let mut series = Vec::with_capacity(starts.len());
        for chunk in starts.chunks(1_000) {
            let mut pipe = redis::pipe();
            for &b in chunk {
                pipe.hget(self.layout.key(Family::Counts, step.secs, b), field);
            }
            let values: Vec<Option<u64>> = pipe.query_async(&mut self.conn.clone()).await?;
            series.extend(chunk.iter().zip(values).map(|(&b, v)| (b, v.unwrap_or(0))));
        }
        Ok(Count {
            value: series.iter().map(|(_, v)| v).sum(),
            step_s: step.secs,
            series,
        })
    }

    /// Every field of the counts whose selector is exactly `dimension=<value>`:
    /// value -> count.
    pub async fn breakdown(
        &self,
        dimension: &str,
        window: Window,
    ) -> Result<BTreeMap<String, u64>, CountersError> {
        let prefix = format!("{}=", parse_selector(dimension)?);
        let mut out = BTreeMap::new();
        for (field, n) in self.sum_hashes(Family::Counts, window).await? {
            if let Some(value) = field.strip_prefix(&prefix) {
                if !value.contains(',') {
                    *out.entry(value.to_owned()).or_default() += u64::try_from(n).unwrap_or(0);
                }
            }
        }
        Ok(out)
    }

    /// Revenue over the window: currency -> status -> amount (exact).
    pub async fn revenue(
        &self,
        window: Window,
    ) -> Result<BTreeMap<String, BTreeMap<String, Decimal>>, CountersError> {
        let mut out: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::new();
        for (field, n) in self.sum_hashes(Family::Revenue, window).await? {
            if let Some((status, currency)) = revenue_field(&field) {
                *out.entry(currency.to_owned())
                    .or_default()
                    .entry(status.to_owned())
                    .or_default() += revenue_amount(n);
            }
        }
        Ok(out)
    }

    /// Latency percentiles of a series: `all` requests, `db` query time, or an endpoint.
    pub async fn latency(
        &self,
        series: &str,
        window: Window,
    ) -> Result<Percentiles, CountersError> {
        Ok(Percentiles::from_counts(
            &self.latency_histogram(series, window).await?,
        ))
    }

    /// The latency bucket counts of a series over the window (see [`crate::latency`]).
    pub async fn latency_histogram(
        &self,
        series: &str,
        window: Window,
    ) -> Result<[u64; BUCKETS], CountersError> {
        let mut name = String::new();
        push_clean(&mut name, series);
        let mut all = self.latency_by_series(window).await?;
        Ok(all.remove(&name).unwrap_or([0; BUCKETS]))
    }

    /// The latency bucket counts of every series (`all`, `db`, each endpoint)
    /// over the window, in one read.
    pub async fn latency_by_series(
        &self,
        window: Window,
    ) -> Result<BTreeMap<String, [u64; BUCKETS]>, CountersError> {
        let mut out: BTreeMap<String, [u64; BUCKETS]> = BTreeMap::new();
        for (field, n) in self.sum_hashes(Family::Latency, window).await? {
            if let Some((series, i)) = latency_field(&field) {
                out.entry(series.to_owned()).or_insert([0; BUCKETS])[i] +=
                    u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// Distinct users seen in the hours overlapping the window (HyperLogLog:
    /// about 0.8% standard error).
    pub async fn unique_users(&self, window: Window) -> Result<u64, CountersError> {
        let step = self.layout.users_step();
        let keys: Vec<String> = Self::buckets(step, window)
            .map(|b| self.layout.key(Family::Users, step.secs, b))
            .collect();
        Ok(redis::cmd("PFCOUNT")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// Each bucket's hash of a family (counts, revenue or latency) over the
    /// window, oldest first, read at the resolution [`Self::step_for`] picks.
    pub async fn bucket_hashes(
        &self,
        family: Family,
        window: Window,
    ) -> Result<BucketHashes, CountersError> {
        let step = self.step_for(window);
        let starts: Vec<i64> = Self::buckets(step, window).collect();
        let mut pipe = redis::pipe();
        for &b in &starts {
            pipe.hgetall(self.layout.key(family, step.secs, b));
        }
        let hashes: Vec<BTreeMap<String, i64>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(BucketHashes {
            step_s: step.secs,
            buckets: starts.into_iter().zip(hashes).collect(),
        })
    }

    /// Every field of a hash family summed over the window's buckets.
    async fn sum_hashes(
        &self,
        family: Family,
        window: Window,
    ) -> Result<BTreeMap<String, i64>, CountersError> {
        let mut out = BTreeMap::new();
        for (_, hash) in self.bucket_hashes(family, window).await?.buckets {
            for (field, n) in hash {
                *out.entry(field).or_default() += n;
            }
        }
        Ok(out)
    }
}

/// Hashes per bucket: (bucket start, field -> value), oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketHashes {
    pub step_s: i64,
    pub buckets: Vec<(i64, BTreeMap<String, i64>)>,
}

/// A latency field (`<series>#<bucket>`) as (series, bucket index).
pub fn latency_field(field: &str) -> Option<(&str, usize)> {
    let (series, i) = field.rsplit_once('#')?;
    let i = i.parse::<usize>().ok().filter(|&i| i < BUCKETS)?;
    Some((series, i))
}

/// A revenue field (`status=<s>,currency=<c>`) as (status, currency).
pub fn revenue_field(field: &str) -> Option<(&str, &str)> {
    let mut status = None;
    let mut currency = None;
    for part in field.split(',') {
        match part.split_once('=') {
            Some(("status", v)) => status = Some(v),
            Some(("currency", v)) => currency = Some(v),
            _ => {}
        }
    }
    Some((status?, currency?))
}

/// A stored revenue integer as an exact amount in major units.
pub fn revenue_amount(stored: i64) -> Decimal {
    Decimal::new(stored, 0) / Decimal::from(REVENUE_SCALE)
}

/// Checks a selector: `total`, or `name=value` pairs joined by commas, with
/// names of lower-case letters and underscores. Returns it as stored.
pub fn parse_selector(selector: &str) -> Result<String, CountersError> {
    let bad = |why: &str| {
        CountersError::invalid(format!(
            "selector {selector:?}: {why} (expected `total` or `name=value[,name=value]`, e.g. `service=api,kind=error`)"
        ))
    };
    if selector == "total" {
        return Ok(selector.to_owned());
    }
    let mut out = String::new();
    for (i, part) in selector.split(',').enumerate() {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(bad(&format!("`{name}` is not a dimension name")));
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        if !value.is_empty() {
            out.push('=');
            push_clean(&mut out, value);
        } else if part.contains('=') {
            return Err(bad(&format!("`{name}` has an empty value")));
        }
    }
    Ok(out)
}

/// The finest of `steps` whose buckets still hold the start of `window` at `now`
/// and cover it in at most [`MAX_BUCKETS`]. A window that ended in the past (rules
/// evaluated over past traffic) reaches further back than its length, beyond
/// what the finest resolutions keep.
fn step_for(steps: &[Step], window: Window, now: i64) -> Step {
    let reach = (now - (window.end - window.secs)).max(window.secs);
    steps
        .iter()
        .copied()
        .find(|s| s.keep_secs >= reach && window.secs / s.secs <= MAX_BUCKETS)
        .unwrap_or(steps[steps.len() - 1])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_window_in_the_past_is_read_where_its_buckets_are_still_kept() {
        use super::{step_for, Step, Window};
        let steps = [
            Step {
                secs: 1,
                keep_secs: 3600,
            },
            Step {
                secs: 60,
                keep_secs: 48 * 3600,
            },
            Step {
                secs: 3600,
                keep_secs: 90 * 86_400,
            },
        ];
        let now = 1_000_000_000;
        let five_minutes = |ago: i64| Window {
            end: now - ago,
            secs: 300,
        };
        assert_eq!(step_for(&steps, five_minutes(0), now).secs, 1);
        assert_eq!(step_for(&steps, five_minutes(50 * 60), now).secs, 1);
        assert_eq!(step_for(&steps, five_minutes(2 * 3600), now).secs, 60);
        assert_eq!(step_for(&steps, five_minutes(3 * 86_400), now).secs, 3600);
        let day = Window {
            end: now,
            secs: 86_400,
        };
        assert_eq!(
            step_for(&steps, day, now).secs,
            3600,
            "1,440 minutes are too many buckets"
        );
    }

    use super::*;

    #[test]
    fn selectors_are_checked_and_normalised_like_stored_fields() {
        assert_eq!(parse_selector("total").unwrap(), "total");
        assert_eq!(
            parse_selector("service=api,kind=error").unwrap(),
            "service=api,kind=error"
        );
        assert_eq!(parse_selector("kind").unwrap(), "kind");
        assert_eq!(parse_selector("endpoint=/a b").unwrap(), "endpoint=/a_b");
        let err = parse_selector("Kind=error").unwrap_err().to_string();
        assert!(err.contains("`Kind`"), "{err}");
        assert!(parse_selector("kind=")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(parse_selector("").is_err());
    }
}
