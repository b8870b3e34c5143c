//! Verdicts in SQLite: one row per transaction, the latest decision kept, and the
//! detections of given transactions found through an index on their body.

use rusqlite::{params, params_from_iter, Connection};
use sightline_schemas::{Detection, Verdict};

use super::{backend, parse};
use crate::error::FraudError;

/// SQLite binds at most 999 parameters in older builds: lists go in chunks.
const CHUNK: usize = 500;

fn nanos(v: &Verdict) -> i64 {
    v.decided_at.unix_timestamp_nanos() as i64
}

pub(super) fn record(conn: &mut Connection, batch: &[Verdict]) -> Result<usize, FraudError> {
    let tx = conn.transaction().map_err(backend)?;
    let mut changed = 0;
    {
        // The same order as `Verdict::supersedes`: time, then the verdict's name.
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO verdicts (transaction_id, decided_at, kind, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (transaction_id) DO UPDATE SET decided_at = excluded.decided_at,
                   kind = excluded.kind, body = excluded.body
                 WHERE (excluded.decided_at, excluded.kind) > (verdicts.decided_at, verdicts.kind)",
            )
            .map_err(backend)?;
        for v in batch {
            let body = serde_json::to_string(v).map_err(|e| FraudError::Backend(e.to_string()))?;
            changed += upsert
                .execute(params![
                    v.transaction_id,
                    nanos(v),
                    v.verdict.as_str(),
                    body
                ])
                .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(changed)
}

pub(super) fn read(
    conn: &mut Connection,
    transactions: Option<Vec<String>>,
) -> Result<Vec<Verdict>, FraudError> {
    let parse_verdict = |text: String| {
        serde_json::from_str::<Verdict>(&text)
            .map_err(|e| FraudError::Backend(format!("unreadable stored verdict: {e}")))
    };
    // A store written by a version without verdicts, opened read-only, has no
    // table for them (the writer adds it when it next opens the store).
    let exists = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'verdicts'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(backend)?;
    let mut bodies = Vec::new();
    if exists == 0 {
        return Ok(Vec::new());
    }
    match transactions {
        None => {
            let mut stmt = conn.prepare("SELECT body FROM verdicts").map_err(backend)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            for row in rows {
                bodies.push(row.map_err(backend)?);
            }
        }
        Some(ids) => {
            for chunk in ids.chunks(CHUNK) {
                let sql = format!(
                    "SELECT body FROM verdicts WHERE transaction_id IN ({})",
                    placeholders(chunk.len())
                );
                let mut stmt = conn.prepare(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(params_from_iter(chunk), |r| r.get::<_, String>(0))
                    .map_err(backend)?;
                for row in rows {
                    bodies.push(row.map_err(backend)?);
                }
            }
        }
    }
    bodies.into_iter().map(parse_verdict).collect()
}

pub(super) fn detections_of(
    conn: &mut Connection,
    transactions: &[String],
) -> Result<Vec<Detection>, FraudError> {
    let mut out = Vec::new();
    for chunk in transactions.chunks(CHUNK) {
        let sql = format!(
            "SELECT body FROM detections WHERE json_extract(body, '$.transaction_id') IN ({})",
            placeholders(chunk.len())
        );
        let mut stmt = conn.prepare(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(params_from_iter(chunk), |r| r.get::<_, String>(0))
            .map_err(backend)?;
        for row in rows {
            out.push(parse(row.map_err(backend)?)?);
        }
    }
    Ok(out)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
