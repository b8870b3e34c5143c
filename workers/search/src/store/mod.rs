//! The search store trait, its backends, and the configured one of them
//! ([`configured::ConfiguredIndex`]). Every backend passes the same suite
//! (tests/src/search_suite/) with the same expected results.

pub mod configured;
pub mod elasticsearch;
pub mod tantivy;

use std::collections::BTreeMap;
use std::future::Future;

use sightline_schemas::OffsetDateTime;

use crate::document::SearchDoc;
use crate::error::SearchError;
use crate::query::{AggRequest, AggResult, SearchRequest, SearchResponse};

/// Documents the store refused for good, by index in the batch, with the reason.
#[derive(Debug, Default)]
pub struct Indexed {
    pub rejected: Vec<(usize, String)>,
}

/// A document and the stream sequence of the event it came from.
#[derive(Debug, Clone)]
pub struct Sequenced {
    pub seq: u64,
    pub doc: SearchDoc,
}

/// The stream a batch comes from; a store with watermarks keeps one per source.
pub use sightline_runtime::consumer::Source;

pub trait SearchStore: Send + Sync + 'static {
    /// Indexes a batch idempotently: a store with a watermark skips sequences at or
    /// below the source's and records the new one in the same commit; one without
    /// upserts by id. A document with a revision replaces lower revisions of its id.
    fn index(
        &self,
        source: Source,
        batch: Vec<Sequenced>,
    ) -> impl Future<Output = Result<Indexed, SearchError>> + Send;

    /// Moves `source`'s watermark up to `seq` with nothing to index (the messages
    /// after the last indexed one went to the DLQ). A no-op below the watermark and
    /// for a store without one.
    fn advance(
        &self,
        source: Source,
        seq: u64,
    ) -> impl Future<Output = Result<(), SearchError>> + Send;

    /// The last stream sequence of `source` durably indexed, for stores that keep
    /// one; `Ok(None)` from a store that does not (it relies on idempotent upserts).
    fn watermark(
        &self,
        source: Source,
    ) -> impl Future<Output = Result<Option<u64>, SearchError>> + Send;

    /// Whether this store keeps a watermark at all.
    fn keeps_watermark(&self) -> bool;

    fn search(
        &self,
        request: &SearchRequest,
    ) -> impl Future<Output = Result<SearchResponse, SearchError>> + Send;

    fn aggregate(
        &self,
        request: &AggRequest,
    ) -> impl Future<Output = Result<BTreeMap<String, AggResult>, SearchError>> + Send;

    /// Words of recent messages starting with `prefix`, most frequent first.
    fn suggest(
        &self,
        prefix: &str,
        size: usize,
    ) -> impl Future<Output = Result<Vec<String>, SearchError>> + Send;

    /// Documents in the index (all of them, as searchable now).
    fn count(&self) -> impl Future<Output = Result<u64, SearchError>> + Send;

    /// Retention: removes documents that occurred before `cutoff`; returns how many.
    fn delete_before(
        &self,
        cutoff: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, SearchError>> + Send;
}

/// The words of a message worth suggesting: lower-case, 3 to 32 letters or digits.
pub fn suggestion_words(message: &str) -> Vec<String> {
    let mut words: Vec<String> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| (3..=32).contains(&w.chars().count()) && w.chars().any(char::is_alphabetic))
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    words.truncate(32);
    words
}

/// The `include` pattern that keeps words starting with `prefix` (regex-escaped).
pub fn prefix_pattern(prefix: &str) -> Result<String, SearchError> {
    let prefix = prefix.trim().to_lowercase();
    if prefix.is_empty()
        || prefix.chars().count() > 32
        || !prefix.chars().all(char::is_alphanumeric)
    {
        return Err(SearchError::invalid(
            "prefix must be 1-32 letters or digits",
        ));
    }
    Ok(format!("{prefix}.*"))
}
