//! The durable consumer names, defined once: the workers read under them, and the
//! API, rebuilds, `sightline status` and the benchmarks find a role's position by
//! them.

use crate::versions::Target;

use super::Source;

/// The indexer on LOGS.
pub const INDEXER: &str = "indexer";
/// The scorer on LOGS (it acks nothing: its position is the progress it records).
pub const SCORER: &str = "fraud";
/// The detections store on FRAUD.
pub const FRAUD_STORE: &str = "fraud-store";
/// The counters on LOGS.
pub const COUNTERS: &str = "counters";
/// The indexer on FRAUD.
pub const INDEXER_FRAUD: &str = "indexer-fraud";
/// The counters on FRAUD.
pub const COUNTERS_FRAUD: &str = "counters-fraud";

/// The consumer on FRAUD of a role that also reads LOGS under `role`.
pub fn on_fraud(role: &str) -> String {
    format!("{role}-fraud")
}

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
