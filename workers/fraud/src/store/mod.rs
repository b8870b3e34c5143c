//! The detections store: one trait, an embedded SQLite backend and MongoDB, and
//! the configured one of them ([`configured::ConfiguredDetections`]).
//! Writes are upserts by detection id that never let an older revision replace a
//! newer one, so redelivery, replay and reordering all converge on one row.

pub mod configured;
pub mod mongo;
pub mod sqlite;
pub mod verdicts;

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use sightline_schemas::{Decimal, Detection, OffsetDateTime, Verdict};

use crate::error::FraudError;

/// The most detections one query returns.
pub const MAX_LIMIT: usize = 1000;

/// Which detections to list, newest first (by `detected_at`, then id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionQuery {
    pub min_score: Option<u8>,
    pub user: Option<String>,
    pub indicator: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: usize,
}

impl DetectionQuery {
    /// The limit, defaulted (50) and capped.
    pub fn limit(&self) -> usize {
        match self.limit {
            0 => 50,
            n => n.min(MAX_LIMIT),
        }
    }

    pub fn check(&self) -> Result<(), FraudError> {
        // since after until is an empty range, not an error (as in search).
        if self.min_score.is_some_and(|s| s > 100) {
            return Err(FraudError::Invalid("min_score must be 0-100".into()));
        }
        if let Some(name) = &self.indicator {
            if !crate::score::evidence::ALL.contains(&name.as_str()) {
                return Err(FraudError::Invalid(format!(
                    "indicator must be one of {}",
                    crate::score::evidence::ALL.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The period stats cover (by `detected_at`) and what counts as suspicious.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsQuery {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub suspicious_score: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionStats {
    pub detections: u64,
    pub suspicious: u64,
    /// Detections each indicator took part in.
    pub by_indicator: BTreeMap<String, u64>,
    /// Ten buckets of ten points: `[0, 10)`, ..., `[90, 100]`.
    pub score_histogram: [u64; 10],
    /// The sum of suspicious payments, per currency.
    pub amount_at_risk: BTreeMap<String, Decimal>,
    /// Analysts' verdicts on the detections of the period, and the precision they
    /// give each typology and each evidence.
    #[serde(default)]
    pub verdicts: verdicts::VerdictStats,
}

/// What a write did: rows written, and detections skipped because the store
/// already held the same or a later revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub written: usize,
    pub stale: usize,
}

pub trait DetectionStore: Clone + Send + Sync + 'static {
    /// Upserts by id; a revision lower than the stored one is skipped.
    fn upsert(
        &self,
        batch: &[Detection],
    ) -> impl Future<Output = Result<Written, FraudError>> + Send;

    fn get(
        &self,
        id: &sightline_schemas::Uuid,
    ) -> impl Future<Output = Result<Option<Detection>, FraudError>> + Send;

    fn list(
        &self,
        query: &DetectionQuery,
    ) -> impl Future<Output = Result<Vec<Detection>, FraudError>> + Send;

    fn stats(
        &self,
        query: &StatsQuery,
    ) -> impl Future<Output = Result<DetectionStats, FraudError>> + Send;

    fn count(&self) -> impl Future<Output = Result<u64, FraudError>> + Send;

    /// Keeps each transaction's latest verdict (see [`Verdict::supersedes`]);
    /// returns how many changed what is stored.
    fn record_verdicts(
        &self,
        batch: &[Verdict],
    ) -> impl Future<Output = Result<usize, FraudError>> + Send;

    /// The verdicts on these transactions, or every verdict for `None`.
    fn verdicts(
        &self,
        transactions: Option<Vec<String>>,
    ) -> impl Future<Output = Result<Vec<Verdict>, FraudError>> + Send;

    /// Every stored detection of these transactions (one per rules version).
    fn of_transactions(
        &self,
        transactions: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Detection>, FraudError>> + Send;
}

/// The histogram bucket of a score.
pub fn score_bucket(score: u8) -> usize {
    usize::from(score.min(99) / 10)
}

/// Adds a stored amount (kept as exact decimal text) to a per-currency sum.
pub(crate) fn add_amount(
    sums: &mut BTreeMap<String, Decimal>,
    currency: String,
    amount: &str,
) -> Result<(), FraudError> {
    let value: Decimal = amount
        .parse()
        .map_err(|_| FraudError::Backend(format!("stored amount {amount:?} is not a decimal")))?;
    *sums.entry(currency).or_default() += value;
    Ok(())
}

/// Keeps the highest revision of each id in a batch (a burst may revise a payment
/// scored in the same batch).
pub(crate) fn latest_revisions(batch: &[Detection]) -> Vec<&Detection> {
    let mut latest: BTreeMap<_, &Detection> = BTreeMap::new();
    for d in batch {
        latest
            .entry(d.id)
            .and_modify(|kept| {
                if d.revision >= kept.revision {
                    *kept = d;
                }
            })
            .or_insert(d);
    }
    latest.into_values().collect()
}
