//! Every end-to-end test in one binary: linking a test binary against every
//! backend is the slow and large part of a build, so there is one, and each file
//! below is a module named for what it tests (`cargo test --test e2e replay::`).

mod alerts;
mod alerts_alertmanager;
mod alerts_anomaly;
mod alerts_email;
mod alerts_issues;
mod alerts_logs;
mod api;
mod api_contract;
mod bulk;
mod compose;
mod counters;
mod counters_store;
mod dashboard;
mod dlq;
mod fraud;
mod fraud_store;
mod harness;
mod indexer;
mod indexer_fraud;
mod log_files;
mod no_card_numbers;
mod node;
mod otlp;
mod publish;
mod replay;
mod replay_scale_out;
mod rescore;
mod routes;
mod runtime;
mod scorer_crash;
mod search_elasticsearch;
mod search_tantivy;
mod shared_worker;
mod syslog;
mod tail;
mod up;
mod up_crash;
mod verdicts;
mod versions;
mod worker;
