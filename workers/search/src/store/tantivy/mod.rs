//! The embedded search store: a Tantivy index on disk. Each batch is one commit whose
//! payload carries the last applied stream sequence, so the index and its watermark
//! move together; readers reload after every commit.

mod lang;
mod read;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sightline_schemas::OffsetDateTime;
use tantivy::directory::MmapDirectory;
use tantivy::query::RangeQuery;
use tantivy::{DateTime, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::{Indexed, SearchStore, Sequenced, Source};
use crate::error::SearchError;
use crate::query::{AggRequest, AggResult, SearchRequest, SearchResponse};
use schema::Fields;

/// Memory the writer may buffer before it flushes a segment on its own.
const WRITER_MEMORY: usize = 256 * 1024 * 1024;
/// Every commit closes one segment per indexing thread, and each segment costs a
/// term dictionary to build and merges later. Beside the bus and the other workers
/// a second thread added that cost without indexing any faster: one thread spent
/// about a sixth less CPU per event in `bench pipeline` (docs/benchmarks.md).
const WRITER_THREADS: usize = 1;

#[derive(Clone)]
pub struct TantivyStore {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    /// `None` for a read-only handle (a CLI or API process beside the indexer).
    writer: Option<Mutex<Writer>>,
}

struct Writer {
    writer: IndexWriter<TantivyDocument>,
    /// The watermarks of the last commit, written again by every commit.
    watermarks: Watermarks,
}

/// The commit payload: the last sequence indexed from each stream.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Watermarks {
    /// LOGS (named so for indexes written before FRAUD was indexed).
    #[serde(rename = "watermark", default, skip_serializing_if = "Option::is_none")]
    logs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fraud: Option<u64>,
}

impl Watermarks {
    fn get(&self, source: Source) -> Option<u64> {
        match source {
            Source::Logs => self.logs,
            Source::Fraud => self.fraud,
        }
    }

    fn with(mut self, source: Source, seq: u64) -> Self {
        match source {
            Source::Logs => self.logs = Some(seq),
            Source::Fraud => self.fraud = Some(seq),
        }
        self
    }
}

impl TantivyStore {
    /// Opens the index in `dir` for writing, creating it when empty. One process
    /// at a time may hold the writer.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with(dir, true)
    }

    /// Opens an existing index for reading only; it follows the writer's commits.
    pub fn open_read_only(dir: &Path) -> Result<Self, SearchError> {
        if !dir.join("meta.json").exists() {
            return Err(SearchError::invalid(format!(
                "no search index in {} (has the indexer run?)",
                dir.display()
            )));
        }
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, write: bool) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SearchError::Unavailable(format!("creating {}: {e}", dir.display())))?;
        let fields = Fields::new();
        let open = || -> Result<Index, tantivy::TantivyError> {
            let directory = MmapDirectory::open(dir)?;
            Index::open_or_create(directory, fields.schema.clone())
        };
        let index = match open() {
            // Written by a release with another schema: the writer sets it aside
            // and starts empty, and with its watermarks at nothing the indexer
            // reads its streams from the start, so the index rebuilds itself
            // from what the streams retain.
            Err(tantivy::TantivyError::SchemaError(reason)) if write => {
                let aside = set_aside(dir)?;
                tracing::warn!(
                    index = %dir.display(),
                    kept = %aside.display(),
                    %reason,
                    "the search index was written with another schema; set aside, rebuilding it from the streams"
                );
                open()
            }
            other => other,
        }
        .map_err(|e| {
            SearchError::backend(format!(
                "index in {}: {e} (rebuild it with a replay)",
                dir.display()
            ))
        })?;
        let watermarks = read_watermarks(&index)?;
        let writer = match write {
            true => Some(Mutex::new(Writer {
                writer: take_writer(&index)?,
                watermarks,
            })),
            false => None,
        };
        let policy = if write {
            ReloadPolicy::Manual
        } else {
            ReloadPolicy::OnCommitWithDelay
        };
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        let inner = Inner {
            index,
            fields,
            reader,
            writer,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Runs index work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    ) -> Result<T, SearchError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| SearchError::backend(format!("index task failed: {e}")))?
    }
}

impl Inner {
    fn writer(&self) -> Result<MutexGuard<'_, Writer>, SearchError> {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| SearchError::invalid("this search index handle is read-only"))?;
        Ok(writer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Commits what the writer holds with the watermarks, or discards it on failure.
    fn commit(&self, w: &mut Writer, watermarks: Watermarks) -> Result<(), SearchError> {
        let payload = serde_json::json!(watermarks).to_string();
        let result = (|| {
            let mut prepared = w.writer.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()
        })();
        match result {
            Ok(_) => {
                w.watermarks = watermarks;
                self.reader.reload()?;
                Ok(())
            }
            Err(e) => {
                let _ = w.writer.rollback();
                Err(e.into())
            }
        }
    }
}

/// Moves the index in `dir` to a sibling named for now, leaving `dir` empty.
fn set_aside(dir: &Path) -> Result<std::path::PathBuf, SearchError> {
    let name = dir
        .file_name()
        .map_or_else(|| "index".into(), |n| n.to_string_lossy().into_owned());
    let aside = dir.with_file_name(format!(
        "{name}.old-{}",
        OffsetDateTime::now_utc().unix_timestamp()
    ));
    let failed = |e: std::io::Error| {
        SearchError::Unavailable(format!("setting {} aside: {e}", dir.display()))
    };
    std::fs::rename(dir, &aside).map_err(failed)?;
    std::fs::create_dir_all(dir).map_err(failed)?;
    Ok(aside)
}

/// Takes the index's writer lock, waiting a little while it is busy. The lock is an
/// `flock` on a file, and it outlives its owner for a moment when a process that
/// dropped it was just exiting, or when another thread of this process forked a
/// child that still holds the descriptor until it execs. A writer that is really
/// running elsewhere still gets a clear error once the wait is over.
fn take_writer(index: &Index) -> Result<IndexWriter<TantivyDocument>, SearchError> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(3);
    const STEP: std::time::Duration = std::time::Duration::from_millis(25);
    let started = std::time::Instant::now();
    loop {
        match index.writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY) {
            Err(tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            )) if started.elapsed() < WAIT => std::thread::sleep(STEP),
            other => return Ok(other?),
        }
    }
}

fn read_watermarks(index: &Index) -> Result<Watermarks, SearchError> {
    let metas = index.load_metas()?;
    match metas.payload {
        None => Ok(Watermarks::default()),
        Some(p) => serde_json::from_str(&p)
            .map_err(|e| SearchError::backend(format!("unreadable commit payload: {e}"))),
    }
}

impl SearchStore for TantivyStore {
    async fn index(&self, source: Source, batch: Vec<Sequenced>) -> Result<Indexed, SearchError> {
        self.blocking(move |inner| {
            let mut w = inner.writer()?;
            let floor = w.watermarks.get(source).unwrap_or(0);
            // The watermark, not an id lookup, keeps this idempotent: a sequence is
            // either in the committed index (at or below it) or not at all.
            let fresh: Vec<&Sequenced> = batch.iter().filter(|s| s.seq > floor).collect();
            let Some(top) = fresh.iter().map(|s| s.seq).max() else {
                return Ok(Indexed::default());
            };
            for s in &fresh {
                // Revisions arrive in stream order: the latest replaces the others.
                if s.doc.revision.is_some() {
                    w.writer
                        .delete_term(Term::from_field_text(inner.fields.revised_id, &s.doc.id));
                }
                w.writer.add_document(inner.fields.document(&s.doc))?;
            }
            let watermarks = w.watermarks.with(source, top);
            inner.commit(&mut w, watermarks)?;
            Ok(Indexed::default())
        })
        .await
    }

    async fn advance(&self, source: Source, seq: u64) -> Result<(), SearchError> {
        self.blocking(move |inner| {
            let mut w = inner.writer()?;
            if w.watermarks.get(source).is_some_and(|floor| floor >= seq) {
                return Ok(());
            }
            let watermarks = w.watermarks.with(source, seq);
            inner.commit(&mut w, watermarks)
        })
        .await
    }

    async fn watermark(&self, source: Source) -> Result<Option<u64>, SearchError> {
        self.blocking(move |inner| match &inner.writer {
            Some(_) => Ok(inner.writer()?.watermarks.get(source)),
            None => {
                // Read before reloading, so what is searchable is never older
                // than the watermark a reader (the API) reports.
                let watermarks = read_watermarks(&inner.index)?;
                inner.reader.reload()?;
                Ok(watermarks.get(source))
            }
        })
        .await
    }

    fn keeps_watermark(&self) -> bool {
        true
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let request = request.clone();
        self.blocking(move |inner| read::search(inner, &request))
            .await
    }

    async fn aggregate(
        &self,
        request: &AggRequest,
    ) -> Result<std::collections::BTreeMap<String, AggResult>, SearchError> {
        let request = request.clone();
        self.blocking(move |inner| read::aggregate(inner, &request))
            .await
    }

    async fn suggest(&self, prefix: &str, size: usize) -> Result<Vec<String>, SearchError> {
        let prefix = prefix.to_owned();
        self.blocking(move |inner| read::suggest(inner, &prefix, size))
            .await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.blocking(|inner| Ok(inner.reader.searcher().num_docs()))
            .await
    }

    async fn delete_before(&self, cutoff: OffsetDateTime) -> Result<u64, SearchError> {
        let nanos = i64::try_from(cutoff.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        self.blocking(move |inner| {
            let before = inner.reader.searcher().num_docs();
            let mut w = inner.writer()?;
            let old = Term::from_field_date(
                inner.fields.occurred_at,
                DateTime::from_timestamp_nanos(nanos),
            );
            let query = RangeQuery::new(std::ops::Bound::Unbounded, std::ops::Bound::Excluded(old));
            w.writer.delete_query(Box::new(query))?;
            let watermarks = w.watermarks;
            inner.commit(&mut w, watermarks)?;
            Ok(before.saturating_sub(inner.reader.searcher().num_docs()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index as an earlier release wrote it: another schema, one document.
    fn older_index(dir: &Path) {
        let mut b = tantivy::schema::Schema::builder();
        let text = b.add_text_field("text", tantivy::schema::TEXT);
        let index = Index::create_in_dir(dir, b.build()).unwrap();
        let mut writer: IndexWriter<TantivyDocument> = index.writer(15_000_000).unwrap();
        writer.add_document(tantivy::doc!(text => "old")).unwrap();
        writer.commit().unwrap();
    }

    #[tokio::test]
    async fn an_index_of_another_schema_is_set_aside_and_rebuilt_from_the_start() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("tantivy");
        std::fs::create_dir_all(&dir).unwrap();
        older_index(&dir);
        // A reader cannot rebuild anything: it says what to do.
        let refused = TantivyStore::open_read_only(&dir).err().unwrap();
        assert!(refused.to_string().contains("replay"), "{refused}");

        let store = TantivyStore::open(&dir).unwrap();
        assert_eq!(store.count().await.unwrap(), 0);
        assert_eq!(
            store.watermark(Source::Logs).await.unwrap(),
            None,
            "read from the start"
        );
        let kept: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tantivy.old-"))
            .collect();
        assert_eq!(kept.len(), 1, "the old index is kept aside");
        assert!(root.path().join(&kept[0]).join("meta.json").exists());
    }
}
