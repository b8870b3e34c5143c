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
    // A store written by a version without verdicts, opened read-only, has no
    // table for them (the writer adds it when it next opens the store).
    let exists = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'verdicts'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(backend)?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let bodies = match transactions {
        None => bodies_where(conn, "SELECT body FROM verdicts", None)?,
        Some(ids) => {
            let sql = "SELECT body FROM verdicts WHERE transaction_id";
            bodies_where(conn, sql, Some(&ids))?
        }
    };
    bodies
        .into_iter()
        .map(|text| {
            serde_json::from_str::<Verdict>(&text)
                .map_err(|e| FraudError::Backend(format!("unreadable stored verdict: {e}")))
        })
        .collect()
}

pub(super) fn detections_of(
    conn: &mut Connection,
    transactions: &[String],
) -> Result<Vec<Detection>, FraudError> {
    let sql = "SELECT body FROM detections WHERE json_extract(body, '$.transaction_id')";
    let bodies = bodies_where(conn, sql, Some(transactions))?;
    bodies.into_iter().map(parse).collect()
}

/// The first column of `select`, for every row or (`ids`) for the rows whose
/// expression at the end of `select` is one of `ids`, asked in chunks.
fn bodies_where(
    conn: &mut Connection,
    select: &str,
    ids: Option<&[String]>,
) -> Result<Vec<String>, FraudError> {
    let mut bodies = Vec::new();
    let chunks: Vec<&[String]> = match ids {
        None => vec![&[]],
        Some(ids) => ids.chunks(CHUNK).collect(),
    };
    for chunk in chunks {
        let sql = match ids {
            None => select.to_owned(),
            Some(_) => format!("{select} IN ({})", placeholders(chunk.len())),
        };
        let mut stmt = conn.prepare(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(params_from_iter(chunk), |r| r.get::<_, String>(0))
            .map_err(backend)?;
        for row in rows {
            bodies.push(row.map_err(backend)?);
        }
    }
    Ok(bodies)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
