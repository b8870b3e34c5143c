//! The durable consumer names, defined once: the workers read under them, and the
//! API, rebuilds, `sightline status` and the benchmarks find a role's position by
//! them.

use crate::versions::Target;

use super::Source;

// The readers of LOGS: the indexer, the scorer (it acks nothing: its position is
// the progress it records) and the counters.
pub const INDEXER: &str = "indexer";
pub const SCORER: &str = "fraud";
pub const COUNTERS: &str = "counters";

/// The detections store, on FRAUD.
pub const FRAUD_STORE: &str = "fraud-store";

/// The consumer on FRAUD of a role that also reads LOGS under `role`.
pub fn on_fraud(role: &str) -> String {
    format!("{role}-fraud")
}

// The FRAUD halves of the index and the counters, as [`on_fraud`] names them.
pub const INDEXER_FRAUD: &str = "indexer-fraud";
pub const COUNTERS_FRAUD: &str = "counters-fraud";

/// The durable name of the live worker that keeps `target` from `source`.
pub fn live(target: Target, source: Source) -> &'static str {
    match (target, source) {
        (Target::Search, Source::Logs) => INDEXER,
        (Target::Search, Source::Fraud) => INDEXER_FRAUD,
        (Target::Counters, Source::Logs) => COUNTERS,
        (Target::Counters, Source::Fraud) => COUNTERS_FRAUD,
        (Target::Fraud, _) => FRAUD_STORE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_on_fraud_reads_under_its_name_and_fraud() {
        assert_eq!(on_fraud(INDEXER), INDEXER_FRAUD);
        assert_eq!(on_fraud(COUNTERS), COUNTERS_FRAUD);
        assert_eq!(live(Target::Search, Source::Fraud), INDEXER_FRAUD);
    }
}
