//! `sightline bench fraud-suite`: the scorer on the independent labeled suite
//! (`sightline-scenarios`), one run per seed: precision, recall and false-positive
//! rate at the suspicious score, recall per scenario and variant, false positives
//! per look-alike, and payments scored per second by the pure scoring core.
//! `bench fraud` includes the same grading on the seeds the rules were not tuned on.

use std::time::Instant;

use serde_json::Value;
use sightline_fraud::settings::rules;
use sightline_fraud::Rules;
use sightline_runtime::Settings;
use sightline_scenarios::{evaluate, Mix, Suite};
use time::macros::datetime;

use super::Report;

pub async fn run(settings: Settings, seeds: &[u64], customers: usize) -> Report {
    let rules = rules(&settings.fraud)?;
    let runs = grade(&rules, seeds, customers)?;
    Ok(serde_json::json!({
        "bench": "fraud-suite",
        "rules_version": rules.version,
        "customers": customers,
        "runs": runs,
    }))
}

/// One evaluation per seed, each on a suite of `customers` customers.
pub fn grade(rules: &Rules, seeds: &[u64], customers: usize) -> anyhow::Result<Vec<Value>> {
    let mix = Mix {
        customers,
        ..Mix::default()
    };
    let mut runs = Vec::new();
    for &seed in seeds {
        let suite = Suite::new(seed, datetime!(2026-03-02 00:00 UTC), &mix);
        let started = Instant::now();
        let evaluation = evaluate(&suite, rules.clone());
        let seconds = started.elapsed().as_secs_f64();
        let mut run = serde_json::to_value(&evaluation)?;
        run["seed"] = seed.into();
        run["events"] = suite.events.len().into();
        run["payments_scored_per_s"] = (evaluation.payments as f64 / seconds).round().into();
        runs.push(run);
    }
    Ok(runs)
}
