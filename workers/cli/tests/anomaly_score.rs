//! `sightline anomaly score` as a user runs it: a NAB-format series in, each row
//! with its score out; a bad row is refused with its line named.

use std::process::Command;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_row_gets_a_score_and_the_spike_the_highest() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("timestamp,value\n");
    for i in 0..1_000 {
        // Five-minute points of a gentle wave, and one spike.
        let value = if i == 800 {
            400.0
        } else {
            50.0 + 10.0 * (i as f64 / 40.0).sin()
        };
        let (day, minute) = (1 + i * 5 / 1_440, i * 5 % 1_440);
        text += &format!(
            "2014-04-{day:02} {:02}:{:02}:00,{value}\n",
            minute / 60,
            minute % 60
        );
    }
    let path = write(&dir, "series.csv", &text);
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["anomaly", "score"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    let scores: Vec<f64> = lines
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores.len(), 1_000);
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    let top = (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    assert_eq!(top, Some(800));
    assert!(scores[..150].iter().all(|&s| s == 0.0), "warming up");
}

#[test]
fn a_bad_row_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "bad.csv",
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,n/a\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["anomaly", "score"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("n/a"),
        "{stderr}"
    );
}
