//! `sightline anomaly score` and `sightline bench anomaly`: the live detector on
//! anyone's series, and its score on the Numenta Anomaly Benchmark.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use sightline_anomaly::{nab, DetectorConfig};

use crate::cli::{AnomalyAction, SubsetArg};

pub fn run(action: AnomalyAction) -> anyhow::Result<ExitCode> {
    let AnomalyAction::Score { file } = action;
    let rows = nab::read(&file)?;
    let scores = nab::scores(&rows, DetectorConfig::default());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(nab::results(&rows, &scores).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Whether the `index`-th file of its category belongs to `subset`.
fn chosen(subset: SubsetArg, index: usize) -> bool {
    match subset {
        SubsetArg::All => true,
        SubsetArg::Tune => index.is_multiple_of(2),
        SubsetArg::Report => !index.is_multiple_of(2),
    }
}

pub fn bench(
    dir: &Path,
    out: Option<PathBuf>,
    subset: SubsetArg,
    score: bool,
) -> anyhow::Result<serde_json::Value> {
    let out = match out {
        Some(out) => out,
        None => std::env::temp_dir().join(format!("sightline-nab-{}", std::process::id())),
    };
    let config = DetectorConfig::default();
    let mut written = 0;
    let mut points = 0;
    let mut busy = Duration::ZERO;
    let mut category = String::new();
    let mut index = 0;
    for rel in nab::series(dir)? {
        let (cat, _) = rel.split_once('/').unwrap_or(("", &rel));
        if cat != category {
            category = cat.to_owned();
            index = 0;
        }
        index += 1;
        if !chosen(subset, index - 1) {
            continue;
        }
        let rows = nab::read(&dir.join("data").join(&rel))?;
        let started = Instant::now();
        let scores = nab::scores(&rows, config);
        busy += started.elapsed();
        points += rows.len();
        let path = out.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, nab::results(&rows, &scores))
            .with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    anyhow::ensure!(written > 0, "no series under {}/data", dir.display());
    let mut report = serde_json::json!({
        "bench": "anomaly",
        "series": written,
        "points": points,
        "points_per_s": (points as f64 / busy.as_secs_f64().max(1e-9)).round(),
        "results": out,
    });
    if score {
        let script = dir.join("score.sh");
        let ran = std::process::Command::new("bash")
            .arg(&script)
            .arg(&out)
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(
            ran.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&ran.stderr)
        );
        let last = String::from_utf8_lossy(&ran.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        report["nab"] = serde_json::from_str(&last)
            .with_context(|| format!("{} printed {last:?}", script.display()))?;
    }
    Ok(report)
}
