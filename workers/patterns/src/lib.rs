//! Log patterns: every message in, the id of its pattern and its template out
//! (`connection to <*> timed out after <*> ms`). Streaming and bounded, with one
//! configuration for every source.
//!
//! Variables are masked first (numbers, hex, UUIDs, addresses, paths, times,
//! quoted text), then messages of the same length are clustered by their
//! leading words and by how many positions agree, in the manner of Drain (He et
//! al., ICWS 2017); a cluster's template turns a position into `<*>` once two
//! of its messages differ there. A cluster's id is fixed when it is created, so
//! a template that generalizes keeps its id, and the same messages in the same
//! order always give the same ids.
//!
//! Each projection that mines keeps its clusters in a [`Registry`] through a
//! [`PatternStage`], so its ids survive restarts and replays rebuild them.

pub mod loghub;
mod mask;
mod miner;
pub mod registry;
mod stage;

pub use mask::{mask, tokens, WILDCARD};
pub use miner::{Miner, MinerConfig, Pattern, SavedCluster};
pub use registry::{PatternRecord, Registry, RegistryError};
pub use stage::PatternStage;
