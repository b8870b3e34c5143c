//! What analysts' verdicts add to the detections a store answers with: each
//! detection carries its transaction's verdict, and the stats carry the precision
//! the verdicts give every typology and every kind of evidence.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sightline_schemas::{Detection, OffsetDateTime, Verdict, VerdictKind};

use super::DetectionStore;
use crate::error::FraudError;

/// Verdicts on one group of detections, and the share confirmed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub confirmed: u64,
    pub false_positive: u64,
    /// confirmed / (confirmed + false_positive); absent before any verdict.
    pub precision: Option<f64>,
}

impl Judged {
    fn add(&mut self, kind: VerdictKind) {
        match kind {
            VerdictKind::Confirmed => self.confirmed += 1,
            VerdictKind::FalsePositive => self.false_positive += 1,
        }
        let judged = self.confirmed + self.false_positive;
        self.precision = Some((self.confirmed as f64 / judged as f64 * 1e4).round() / 1e4);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictStats {
    pub all: Judged,
    pub by_typology: BTreeMap<String, Judged>,
    pub by_indicator: BTreeMap<String, Judged>,
}

/// Sets each detection's verdict from the store.
pub async fn attach<S: DetectionStore>(
    store: &S,
    mut detections: Vec<Detection>,
) -> Result<Vec<Detection>, FraudError> {
    if detections.is_empty() {
        return Ok(detections);
    }
    let ids = detections
        .iter()
        .map(|d| d.transaction_id.clone())
        .collect();
    let by_tx: HashMap<String, Verdict> = store
        .verdicts(Some(ids))
        .await?
        .into_iter()
        .map(|v| (v.transaction_id.clone(), v))
        .collect();
    for d in &mut detections {
        d.verdict = by_tx.get(&d.transaction_id).cloned();
    }
    Ok(detections)
}

/// The precision verdicts give the detections detected within the period: each
/// verdict counts once, against the newest detection of its transaction.
pub async fn stats<S: DetectionStore>(
    store: &S,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
) -> Result<VerdictStats, FraudError> {
    let verdicts = store.verdicts(None).await?;
    let ids = verdicts.iter().map(|v| v.transaction_id.clone()).collect();
    let mut newest: HashMap<String, Detection> = HashMap::new();
    for d in store.of_transactions(ids).await? {
        let keep = newest
            .get(&d.transaction_id)
            .is_none_or(|kept| d.detected_at > kept.detected_at);
        if keep {
            newest.insert(d.transaction_id.clone(), d);
        }
    }
    Ok(tally(&verdicts, &newest, since, until))
}

fn tally(
    verdicts: &[Verdict],
    newest: &HashMap<String, Detection>,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
) -> VerdictStats {
    let mut stats = VerdictStats::default();
    for v in verdicts {
        let Some(d) = newest.get(&v.transaction_id) else {
            continue;
        };
        let inside =
            since.is_none_or(|s| d.detected_at >= s) && until.is_none_or(|u| d.detected_at < u);
        if !inside {
            continue;
        }
        stats.all.add(v.verdict);
        for t in &d.typologies {
            stats
                .by_typology
                .entry(t.name.clone())
                .or_default()
                .add(v.verdict);
        }
        for i in &d.indicators {
            stats
                .by_indicator
                .entry(i.name.clone())
                .or_default()
                .add(v.verdict);
        }
    }
    stats
}
