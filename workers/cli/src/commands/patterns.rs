//! `sightline patterns group` and `sightline bench patterns`: the live miner on
//! anyone's messages, and its grouping accuracy on labeled datasets.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use sightline_patterns::{loghub, Miner, MinerConfig};

use crate::cli::PatternsAction;

pub fn run(action: PatternsAction) -> anyhow::Result<ExitCode> {
    let PatternsAction::Group { file } = action;
    let input: Box<dyn BufRead> = match &file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut miner = Miner::new(MinerConfig::default());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}", n + 1))?;
        let p = miner.add(&line);
        let row = serde_json::json!({ "line": n + 1, "pattern": p.id, "template": p.template });
        writeln!(out, "{row}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Per dataset: grouping accuracy and lines per second; then the mean.
pub fn bench(dir: &Path, config: MinerConfig) -> anyhow::Result<serde_json::Value> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut datasets = serde_json::Map::new();
    let mut accuracies = Vec::new();
    for name in &names {
        let path = dir.join(name).join(format!("{name}_2k.log_structured.csv"));
        if !path.exists() {
            continue;
        }
        let lines = loghub::read(&path)?;
        let accuracy = loghub::score(&lines, config);
        // Speed over many passes of the same lines, each from an empty miner.
        let started = Instant::now();
        let mut passes = 0;
        while started.elapsed().as_secs_f64() < 0.5 {
            let mut miner = Miner::new(config);
            for (message, _) in &lines {
                std::hint::black_box(miner.add(message));
            }
            passes += 1;
        }
        let per_s = (passes * lines.len()) as f64 / started.elapsed().as_secs_f64();
        accuracies.push(accuracy);
        datasets.insert(
            name.clone(),
            serde_json::json!({ "grouping_accuracy": (accuracy * 1000.0).round() / 1000.0, "lines_per_s": per_s.round() }),
        );
    }
    anyhow::ensure!(
        !accuracies.is_empty(),
        "no Loghub dataset under {}",
        dir.display()
    );
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    let worst = accuracies.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(serde_json::json!({
        "bench": "patterns",
        "similarity": config.similarity,
        "depth": config.depth,
        "datasets": datasets,
        "mean_grouping_accuracy": (mean * 1000.0).round() / 1000.0,
        "worst_grouping_accuracy": (worst * 1000.0).round() / 1000.0,
    }))
}
