//! Grouping accuracy on Loghub-format datasets (`<dir>/<Name>/<Name>_2k.log_structured.csv`,
//! columns `Content` and `EventId`): a line counts when its predicted group holds
//! exactly the lines of its true group (Zhu et al., ICSE 2019).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Miner, MinerConfig};

#[derive(Debug, thiserror::Error)]
pub enum LoghubError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// One dataset's lines: (message, true group).
pub fn read(path: &Path) -> Result<Vec<(String, String)>, LoghubError> {
    let fail = |message: String| LoghubError::Read {
        path: path.to_owned(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| fail(format!("no `{name}` column")))
    };
    let (content, event) = (column("Content")?, column("EventId")?);
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| fail(format!("line {}: {e}", n + 2)))?;
        out.push((
            record.get(content).unwrap_or_default().to_owned(),
            record.get(event).unwrap_or_default().to_owned(),
        ));
    }
    Ok(out)
}

/// The share of lines whose predicted group is exactly their true group.
pub fn grouping_accuracy(truth: &[String], predicted: &[String]) -> f64 {
    let mut by_truth: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_predicted: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (t, p)) in truth.iter().zip(predicted).enumerate() {
        by_truth.entry(t).or_default().push(i);
        by_predicted.entry(p).or_default().push(i);
    }
    let correct: usize = by_predicted
        .values()
        .filter(|lines| {
            let first = &truth[lines[0]];
            by_truth.get(first.as_str()) == Some(*lines)
        })
        .map(Vec::len)
        .sum();
    correct as f64 / truth.len().max(1) as f64
}

/// The miner's grouping accuracy on one dataset's lines, from an empty state.
pub fn score(lines: &[(String, String)], config: MinerConfig) -> f64 {
    let mut miner = Miner::new(config);
    let predicted: Vec<String> = lines.iter().map(|(m, _)| miner.add(m).id).collect();
    let truth: Vec<String> = lines.iter().map(|(_, t)| t.clone()).collect();
    grouping_accuracy(&truth, &predicted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_lines_of_exactly_matched_groups() {
        let truth: Vec<String> = ["a", "a", "b", "b", "c"].map(String::from).to_vec();
        let exact: Vec<String> = ["1", "1", "2", "2", "3"].map(String::from).to_vec();
        assert_eq!(grouping_accuracy(&truth, &exact), 1.0);
        // b split in two: its lines are wrong; a and c are right.
        let split: Vec<String> = ["1", "1", "2", "4", "3"].map(String::from).to_vec();
        assert_eq!(grouping_accuracy(&truth, &split), 0.6);
        // a and c merged: only b is right.
        let merged: Vec<String> = ["1", "1", "2", "2", "1"].map(String::from).to_vec();
        assert_eq!(grouping_accuracy(&truth, &merged), 0.4);
    }
}
