//! The embedded detections store: one SQLite file in WAL mode, so the API and the
//! CLI read while the fraud-store worker writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, ToSql};
use sightline_schemas::{Detection, Uuid, Verdict};

use super::{
    add_amount, latest_revisions, score_bucket, DetectionQuery, DetectionStats, DetectionStore,
    StatsQuery, Written,
};
use crate::error::FraudError;
use crate::state::micros;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS detections (
    id          TEXT PRIMARY KEY,
    revision    INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    score       INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    amount      TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS detections_by_time ON detections (detected_at);
CREATE INDEX IF NOT EXISTS detections_by_user ON detections (user_id, detected_at);
CREATE INDEX IF NOT EXISTS detections_by_score ON detections (score, detected_at);
CREATE TABLE IF NOT EXISTS detection_indicators (
    name         TEXT NOT NULL,
    detection_id TEXT NOT NULL,
    PRIMARY KEY (name, detection_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS indicators_by_detection ON detection_indicators (detection_id);
CREATE INDEX IF NOT EXISTS detections_by_transaction
    ON detections (json_extract(body, '$.transaction_id'));
CREATE TABLE IF NOT EXISTS verdicts (
    transaction_id TEXT PRIMARY KEY,
    decided_at     INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    body           TEXT NOT NULL
) WITHOUT ROWID;
";

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// How long a busy open is tried again before the store counts as unavailable.
const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL lets readers in other processes run beside the writer; FULL makes a
    // commit durable before the worker acks the messages behind it.
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
    )?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn backend(e: rusqlite::Error) -> FraudError {
    if is_busy(&e) {
        FraudError::Unavailable(e.to_string())
    } else {
        FraudError::Backend(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the store for writing.
    pub fn open(path: &Path) -> Result<Self, FraudError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| FraudError::Unavailable(format!("creating {}: {e}", dir.display())))?;
        }
        // The fraud-store and alerts workers start together and both create the
        // store. Where their first statements cross, SQLite can answer "database
        // is locked" at once rather than wait (a read that must become a write),
        // so a busy open is tried again for a while.
        let deadline = std::time::Instant::now() + OPEN_PATIENCE;
        loop {
            match connect(path) {
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(backend(e)),
                Ok(conn) => return Ok(Self::wrap(conn, path)),
            }
        }
    }

    /// Opens an existing store for reading only (the API and the CLI).
    pub fn open_read_only(path: &Path) -> Result<Self, FraudError> {
        if !path.exists() {
            return Err(FraudError::Invalid(format!(
                "no detections store at {} (has the fraud-store worker run?)",
                path.display()
            )));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(backend)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")
            .map_err(backend)?;
        Ok(Self::wrap(conn, path))
    }

    fn wrap(conn: Connection, path: &Path) -> Self {
        Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, FraudError> + Send + 'static,
    ) -> Result<T, FraudError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|e| FraudError::Backend(format!("store task failed: {e}")))?
    }
}

fn body(d: &Detection) -> Result<String, FraudError> {
    serde_json::to_string(d).map_err(|e| FraudError::Backend(e.to_string()))
}

fn parse(text: String) -> Result<Detection, FraudError> {
    serde_json::from_str(&text)
        .map_err(|e| FraudError::Backend(format!("unreadable stored detection: {e}")))
}

/// `WHERE` clauses on detected_at, shared by lists and stats.
fn time_range(
    since: Option<sightline_schemas::OffsetDateTime>,
    until: Option<sightline_schemas::OffsetDateTime>,
    clauses: &mut Vec<String>,
    args: &mut Vec<Box<dyn ToSql + Send>>,
) {
    if let Some(since) = since {
        clauses.push("d.detected_at >= ?".into());
        args.push(Box::new(micros(since)));
    }
    if let Some(until) = until {
        clauses.push("d.detected_at < ?".into());
        args.push(Box::new(micros(until)));
    }
}

fn where_sql(clauses: &[String]) -> String {
    match clauses.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", clauses.join(" AND ")),
    }
}

mod verdicts;

impl DetectionStore for SqliteStore {
    async fn upsert(&self, batch: &[Detection]) -> Result<Written, FraudError> {
        let rows: Vec<(Detection, String)> = latest_revisions(batch)
            .into_iter()
            .map(|d| Ok((d.clone(), body(d)?)))
            .collect::<Result<_, FraudError>>()?;
        let skipped_in_batch = batch.len() - rows.len();
        self.blocking(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let mut written = Written {
                stale: skipped_in_batch,
                ..Written::default()
            };
            {
                let mut upsert = tx
                    .prepare_cached(
                        "INSERT INTO detections (id, revision, user_id, score, detected_at, currency, amount, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (id) DO UPDATE SET revision = excluded.revision,
                           user_id = excluded.user_id, score = excluded.score,
                           detected_at = excluded.detected_at, currency = excluded.currency,
                           amount = excluded.amount, body = excluded.body
                         WHERE excluded.revision > detections.revision",
                    )
                    .map_err(backend)?;
                let mut clear = tx
                    .prepare_cached("DELETE FROM detection_indicators WHERE detection_id = ?1")
                    .map_err(backend)?;
                let mut tag = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO detection_indicators (name, detection_id) VALUES (?1, ?2)",
                    )
                    .map_err(backend)?;
                for (d, text) in &rows {
                    let id = d.id.to_string();
                    let changed = upsert
                        .execute(params![
                            id,
                            d.revision,
                            d.user_id,
                            d.score,
                            micros(d.detected_at),
                            d.currency,
                            d.amount.to_string(),
                            text
                        ])
                        .map_err(backend)?;
                    if changed == 0 {
                        written.stale += 1;
                        continue;
                    }
                    written.written += 1;
                    clear.execute(params![id]).map_err(backend)?;
                    for i in &d.indicators {
                        tag.execute(params![i.name, id]).map_err(backend)?;
                    }
                }
            }
            tx.commit().map_err(backend)?;
            Ok(written)
        })
        .await
    }

    async fn get(&self, id: &Uuid) -> Result<Option<Detection>, FraudError> {
        let id = id.to_string();
        let found = self
            .blocking(move |conn| {
                conn.query_row("SELECT body FROM detections WHERE id = ?1", [id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()
                .map_err(backend)?
                .map(parse)
                .transpose()
            })
            .await?;
        let attached = super::verdicts::attach(self, found.into_iter().collect()).await?;
        Ok(attached.into_iter().next())
    }

    async fn list(&self, query: &DetectionQuery) -> Result<Vec<Detection>, FraudError> {
        query.check()?;
        let query = query.clone();
        let found = self.blocking(move |conn| {
            let mut clauses = Vec::new();
            let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
            if let Some(min) = query.min_score {
                clauses.push("d.score >= ?".to_string());
                args.push(Box::new(min));
            }
            if let Some(user) = &query.user {
                clauses.push("d.user_id = ?".into());
                args.push(Box::new(user.clone()));
            }
            if let Some(name) = &query.indicator {
                clauses.push(
                    "EXISTS (SELECT 1 FROM detection_indicators i WHERE i.detection_id = d.id AND i.name = ?)"
                        .into(),
                );
                args.push(Box::new(name.clone()));
            }
            time_range(query.since, query.until, &mut clauses, &mut args);
            args.push(Box::new(query.limit() as i64));
            let sql = format!(
                "SELECT d.body FROM detections d {} ORDER BY d.detected_at DESC, d.id DESC LIMIT ?",
                where_sql(&clauses)
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(params_from_iter(args.iter().map(|a| a.as_ref())), |r| {
                    r.get::<_, String>(0)
                })
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend).and_then(parse)).collect()
        })
        .await?;
        super::verdicts::attach(self, found).await
    }

    async fn stats(&self, query: &StatsQuery) -> Result<DetectionStats, FraudError> {
        let (since, until) = (query.since, query.until);
        let query = query.clone();
        let mut stats = self.blocking(move |conn| {
            let mut clauses = Vec::new();
            let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
            time_range(query.since, query.until, &mut clauses, &mut args);
            let range = where_sql(&clauses);
            let params = || params_from_iter(args.iter().map(|a| a.as_ref()));
            let mut stats = DetectionStats::default();

            let sql = format!("SELECT d.score, count(*) FROM detections d {range} GROUP BY d.score");
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let mut rows = stmt.query(params()).map_err(backend)?;
            while let Some(row) = rows.next().map_err(backend)? {
                let (score, n): (u8, i64) = (row.get(0).map_err(backend)?, row.get(1).map_err(backend)?);
                let n = n.max(0) as u64;
                stats.detections += n;
                stats.score_histogram[score_bucket(score)] += n;
                if score >= query.suspicious_score {
                    stats.suspicious += n;
                }
            }

            let sql = format!(
                "SELECT i.name, count(*) FROM detection_indicators i JOIN detections d ON d.id = i.detection_id {range} GROUP BY i.name"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let mut rows = stmt.query(params()).map_err(backend)?;
            while let Some(row) = rows.next().map_err(backend)? {
                let n: i64 = row.get(1).map_err(backend)?;
                stats
                    .by_indicator
                    .insert(row.get(0).map_err(backend)?, n.max(0) as u64);
            }

            let mut risky = clauses.clone();
            risky.push(format!("d.score >= {}", query.suspicious_score));
            let sql = format!(
                "SELECT d.currency, d.amount FROM detections d {}",
                where_sql(&risky)
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let mut rows = stmt.query(params()).map_err(backend)?;
            let mut sums = BTreeMap::new();
            while let Some(row) = rows.next().map_err(backend)? {
                let amount: String = row.get(1).map_err(backend)?;
                add_amount(&mut sums, row.get(0).map_err(backend)?, &amount)?;
            }
            stats.amount_at_risk = sums;
            Ok(stats)
        })
        .await?;
        stats.verdicts = super::verdicts::stats(self, since, until).await?;
        Ok(stats)
    }

    async fn record_verdicts(&self, batch: &[Verdict]) -> Result<usize, FraudError> {
        let batch = batch.to_vec();
        self.blocking(move |conn| verdicts::record(conn, &batch))
            .await
    }

    async fn verdicts(
        &self,
        transactions: Option<Vec<String>>,
    ) -> Result<Vec<Verdict>, FraudError> {
        self.blocking(move |conn| verdicts::read(conn, transactions))
            .await
    }

    async fn of_transactions(
        &self,
        transactions: Vec<String>,
    ) -> Result<Vec<Detection>, FraudError> {
        self.blocking(move |conn| verdicts::detections_of(conn, &transactions))
            .await
    }

    async fn count(&self) -> Result<u64, FraudError> {
        self.blocking(|conn| {
            conn.query_row("SELECT count(*) FROM detections", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(backend)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::SqliteStore;

    #[test]
    fn a_store_held_past_one_busy_timeout_opens_once_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detections.sqlite");
        // Another process mid-way through creating it, for longer than SQLite waits.
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t (x);")
            .unwrap();
        let started = Instant::now();
        let opener = {
            let path = path.clone();
            std::thread::spawn(move || SqliteStore::open(&path).map(|_| started.elapsed()))
        };
        std::thread::sleep(Duration::from_secs(6));
        other.execute_batch("COMMIT;").unwrap();
        let waited = opener
            .join()
            .unwrap()
            .expect("opened once the lock was let go");
        assert!(waited >= Duration::from_secs(6), "{waited:?}");
    }
}
