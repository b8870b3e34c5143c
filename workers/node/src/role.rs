//! The roles a node runs, and the names they are known by on the bus.

use sightline_runtime::consumer::names;

/// One kind of worker. A process runs one or several (`sightline worker`), or all
/// of them (`sightline up`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Role {
    /// Index LOGS into the search store.
    Indexer,
    /// Score payments from LOGS and publish detections to FRAUD.
    Fraud,
    /// Project FRAUD detections into the detections store.
    FraudStore,
    /// Count LOGS events and FRAUD detections into Redis.
    Counters,
    /// Evaluate the alert rules and notify the receivers.
    Alerts,
}

/// `sightline up`'s default metrics port; each role has its own
/// ([`Role::metrics_port`]), so the processes of one host never collide.
pub const UP_METRICS_PORT: u16 = 9100;

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Indexer,
        Role::Fraud,
        Role::FraudStore,
        Role::Counters,
        Role::Alerts,
    ];

    /// The durable consumer the role reads under alone, and the lease holder's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Indexer => names::INDEXER,
            Role::Fraud => names::SCORER,
            Role::FraudStore => names::FRAUD_STORE,
            Role::Counters => names::COUNTERS,
            Role::Alerts => "alerts",
        }
    }

    /// The port this role serves /metrics on unless `consumer.metrics_addr` says
    /// otherwise (docs/operations.md); a process of several roles takes the lowest.
    pub fn metrics_port(self) -> u16 {
        match self {
            Role::Indexer => 9101,
            Role::Fraud => 9102,
            Role::FraudStore => 9103,
            Role::Counters => 9104,
            Role::Alerts => 9105,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_and_up_have_a_metrics_port_of_their_own() {
        let mut ports: Vec<u16> = Role::ALL.iter().map(|r| r.metrics_port()).collect();
        ports.push(UP_METRICS_PORT);
        let n = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), n);
    }
}
