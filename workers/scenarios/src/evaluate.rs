//! Grading: the live scorer (the same pure core the fraud worker runs) reads a
//! suite in time order; a payment counts as flagged when its last verdict reaches
//! the rules' suspicious score. Precision, recall and false-positive rate overall,
//! recall per scenario and variant, false positives per look-alike.

use std::collections::BTreeMap;

use serde::Serialize;
use sightline_fraud::{Rules, Scorer};

use crate::{Label, Suite};

/// Caught and missed, or flagged and spared, for one group of payments.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Tally {
    pub payments: u64,
    pub flagged: u64,
}

impl Tally {
    fn share(&self) -> f64 {
        ratio(self.flagged, self.payments)
    }
}

/// What the scorer made of a suite.
#[derive(Debug, Serialize)]
pub struct Evaluation {
    pub suspicious_score: u8,
    pub payments: u64,
    pub fraud: Tally,
    pub genuine: Tally,
    pub precision: f64,
    pub recall: f64,
    pub false_positive_rate: f64,
    /// Recall per `scenario/variant`.
    pub per_scenario: BTreeMap<String, Tally>,
    /// False positives per look-alike kind.
    pub per_lookalike: BTreeMap<&'static str, Tally>,
    /// False positives among everyday payments.
    pub ordinary: Tally,
}

/// Scores `suite` with `rules` from an empty state and grades every payment.
pub fn evaluate(suite: &Suite, rules: Rules) -> Evaluation {
    let suspicious = rules.suspicious_score;
    let mut scorer = Scorer::new(rules);
    // The last revision of each payment's verdict: a burst may raise an earlier one.
    let mut verdicts: BTreeMap<String, (u32, u8)> = BTreeMap::new();
    for event in &suite.events {
        for d in scorer.observe(event) {
            let entry = verdicts
                .entry(d.transaction_id)
                .or_insert((d.revision, d.score));
            if d.revision >= entry.0 {
                *entry = (d.revision, d.score);
            }
        }
    }
    let mut e = Evaluation {
        suspicious_score: suspicious,
        payments: 0,
        fraud: Tally::default(),
        genuine: Tally::default(),
        precision: 0.0,
        recall: 0.0,
        false_positive_rate: 0.0,
        per_scenario: BTreeMap::new(),
        per_lookalike: BTreeMap::new(),
        ordinary: Tally::default(),
    };
    for (tx, label) in &suite.labels {
        let flagged = verdicts.get(tx).is_some_and(|(_, s)| *s >= suspicious);
        let count = |t: &mut Tally| {
            t.payments += 1;
            t.flagged += u64::from(flagged);
        };
        e.payments += 1;
        match label {
            Label::Fraud { scenario, variant } => {
                count(&mut e.fraud);
                count(
                    e.per_scenario
                        .entry(format!("{scenario}/{variant}"))
                        .or_default(),
                );
            }
            Label::LookAlike(kind) => {
                count(&mut e.genuine);
                count(e.per_lookalike.entry(kind).or_default());
            }
            Label::Ordinary => {
                count(&mut e.genuine);
                count(&mut e.ordinary);
            }
        }
    }
    e.precision = ratio(e.fraud.flagged, e.fraud.flagged + e.genuine.flagged);
    e.recall = e.fraud.share();
    e.false_positive_rate = e.genuine.share();
    e
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
