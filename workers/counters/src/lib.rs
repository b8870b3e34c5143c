//! Real-time counters in Redis. A pure planner turns a batch of events into the
//! increments of time-bucketed keys (counts per dimension, revenue, latency
//! histograms, unique-user sketches); the store applies each shard's increments
//! and its stream watermark in one Lua script, so redelivery and replay never
//! count twice. The key layout is in [`layout`] and docs/counters.md.

pub mod error;
pub mod latency;
pub mod layout;
pub mod plan;
pub mod project;
pub mod read;
pub mod store;

pub use error::CountersError;
pub use layout::{Layout, Source};
pub use read::{Reader, Window};
pub use store::RedisStore;
