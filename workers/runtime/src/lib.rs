//! The runtime every Sightline worker shares: configuration, the NATS connection and
//! stream topology, the publisher, the consumer loop with its DLQ and metrics, and
//! the child servers used when nothing external is configured.

pub mod config;
pub mod consumer;
mod error;
pub mod lease;
pub mod metrics;
pub mod nats;
pub mod pii;
pub mod publisher;
pub mod servers;
pub mod shutdown;
pub mod source;
pub mod telemetry;
pub mod topology;
pub mod versions;

pub use config::Settings;
pub use error::{Error, ErrorKind};
pub use nats::Bus;
pub use shutdown::Shutdown;
