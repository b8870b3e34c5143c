//! The Numenta Anomaly Benchmark's files: a series is a CSV of
//! `timestamp,value` (`2014-04-10 07:15:00`, UTC); a detector's results are
//! the same rows with `anomaly_score` added, one per data row, in order.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use time::format_description::FormatItem;
use time::macros::format_description;
use time::PrimitiveDateTime;

use crate::{Detector, DetectorConfig};

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// A series file that cannot be read as NAB's format, with the line at fault.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One row of a series: its timestamp as written, in Unix seconds, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub timestamp: String,
    pub at: i64,
    pub value: f64,
}

/// Reads a `timestamp,value` CSV (a header first).
pub fn read(path: &Path) -> Result<Vec<Row>, NabError> {
    let text = std::fs::read_to_string(path).map_err(|source| NabError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|(line, message)| NabError::Format {
        path: path.to_owned(),
        line,
        message,
    })
}

/// The rows of a series' text; an error names the line (1 is the header).
pub fn parse(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim().starts_with("timestamp,value") => {}
        _ => return Err((1, "expected the header `timestamp,value`".into())),
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        let (Some(timestamp), Some(value)) = (fields.next(), fields.next()) else {
            return Err((n, "expected `timestamp,value`".into()));
        };
        let at = PrimitiveDateTime::parse(timestamp.trim(), TIMESTAMP)
            .map_err(|e| (n, format!("timestamp {timestamp:?}: {e}")))?
            .assume_utc()
            .unix_timestamp();
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|e| (n, format!("value {value:?}: {e}")))?;
        if !value.is_finite() {
            return Err((n, format!("value {value:?} is not a finite number")));
        }
        rows.push(Row {
            timestamp: timestamp.trim().to_owned(),
            at,
            value,
        });
    }
    Ok(rows)
}

/// Each row's score from one fresh detector reading the series in order.
pub fn scores(rows: &[Row], config: DetectorConfig) -> Vec<f64> {
    let mut detector = Detector::new(config);
    rows.iter()
        .map(|r| detector.observe(r.at, r.value).score)
        .collect()
}

/// The results file's text: `timestamp,value,anomaly_score` per row.
pub fn results(rows: &[Row], scores: &[f64]) -> String {
    let mut out = String::from("timestamp,value,anomaly_score\n");
    for (r, s) in rows.iter().zip(scores) {
        let _ = writeln!(out, "{},{},{s:.6}", r.timestamp, r.value);
    }
    out
}

/// The series under `dir/data`, as `<category>/<file>.csv`, sorted.
pub fn series(dir: &Path) -> Result<Vec<String>, NabError> {
    let data = dir.join("data");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| NabError::Io { path, source }
    };
    let mut out = Vec::new();
    for category in std::fs::read_dir(&data).map_err(io(&data))? {
        let category = category.map_err(io(&data))?.path();
        if !category.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&category).map_err(io(&category))? {
            let file = file.map_err(io(&category))?.path();
            if file.extension().is_some_and(|e| e == "csv") {
                let rel = file.strip_prefix(&data).unwrap_or(&file);
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_and_bad_ones_named_by_line() {
        let rows =
            parse("timestamp,value\n2014-04-10 07:15:00,1.5\n2014-04-10 07:20:00,2\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].at - rows[0].at, 300);
        assert_eq!(rows[1].value, 2.0);
        let (line, message) =
            parse("timestamp,value\n2014-04-10 07:15:00,1\n2014-04-10 07:20:00,x\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(message.contains("value \"x\""), "{message}");
        assert_eq!(parse("time,v\n").unwrap_err().0, 1);
        assert_eq!(parse("timestamp,value\nyesterday,1\n").unwrap_err().0, 2);
    }

    #[test]
    fn results_have_one_row_per_data_row_with_scores_in_range() {
        let text: String = std::iter::once("timestamp,value\n".to_owned())
            .chain((0..400).map(|i| {
                let v = if i == 300 { 500.0 } else { (i % 7) as f64 };
                format!("2014-04-10 {:02}:{:02}:00,{v}\n", i / 60 % 24, i % 60)
            }))
            .collect();
        let rows = parse(&text).unwrap();
        let s = scores(&rows, DetectorConfig::default());
        let out = results(&rows, &s);
        assert_eq!(out.lines().count(), 401);
        assert!(s.iter().all(|s| (0.0..=1.0).contains(s)));
        let top = s.iter().copied().fold(0.0, f64::max);
        assert_eq!(s[300], top, "the spike scores highest");
        assert!(top > 0.0);
    }
}
