//! Re-scoring as a rebuild: the scoring core run again over LOGS under the rules
//! now configured, writing the detections straight into a new version of the
//! detections store (`sightline replay --projection fraud --rescore`). Nothing is
//! published: FRAUD keeps what the live scorer said, and the live scorer keeps
//! serving meanwhile. Analysts' verdicts reach the new version from FRAUD beside it.

use sightline_runtime::consumer::{Outcome, Position, Projection, Record};
use sightline_runtime::Error;
use sightline_schemas::{Detection, Event};

use crate::project::PayerIp;
use crate::rules::Rules;
use crate::score::Scorer;
use crate::store::DetectionStore;

/// A scorer from an empty state over the whole of LOGS, into `store`.
pub struct Rescore<S> {
    scorer: Scorer,
    payer_ip: PayerIp,
    store: S,
    scored: u64,
}

impl<S: DetectionStore> Rescore<S> {
    pub fn new(rules: Rules, payer_ip: PayerIp, store: S) -> Self {
        Self {
            scorer: Scorer::new(rules),
            payer_ip,
            store,
            scored: 0,
        }
    }

    /// Detections written so far (revisions included).
    pub fn scored(&self) -> u64 {
        self.scored
    }
}

impl<S: DetectionStore> Projection for Rescore<S> {
    type Item = Event;

    async fn position(&mut self) -> Result<Position, Error> {
        Ok(Position::Untracked)
    }

    /// Scores the batch in stream order, as the live scorer would have; the store
    /// keeps the latest revision of each detection.
    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        let mut detections: Vec<Detection> = Vec::new();
        for record in batch {
            detections.extend(self.scorer.observe(&record.item));
        }
        if !detections.is_empty() {
            self.scored += detections.len() as u64;
            let detections: Vec<Detection> = detections
                .into_iter()
                .map(|d| self.payer_ip.apply(d))
                .collect();
            self.store.upsert(&detections).await?;
        }
        Ok(Outcome::default())
    }
}
