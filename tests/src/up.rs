//! `sightline up` as a process of its own on a data dir: started with random ports,
//! its addresses read from what it prints, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{eventually, sightline_bin, WorkerProcess};

pub struct Up {
    pub process: WorkerProcess,
    /// `http://127.0.0.1:<port>/`
    pub dashboard: String,
    pub nats: String,
    pub redis: String,
}

impl Up {
    /// Starts `sightline up` in `dir` on `data` and waits for "Sightline is up".
    pub async fn start(dir: &Path, data: &Path) -> Up {
        let mut process = WorkerProcess(
            Command::new(sightline_bin())
                .args([
                    "up",
                    "--listen",
                    "127.0.0.1:0",
                    "--nats-port",
                    "0",
                    "--redis-port",
                    "0",
                ])
                .env("SIGHTLINE_DATA_DIR", data)
                .env("RUST_LOG", "warn")
                .env_remove("SIGHTLINE_NATS__URL")
                .env_remove("SIGHTLINE_REDIS__URL")
                .current_dir(dir)
                .stdout(Stdio::piped())
                .spawn()
                .expect("sightline up starts"),
        );
        let stdout = process.0.stdout.take().expect("piped stdout");
        let (dashboard, nats, redis) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let (mut dashboard, mut nats, mut redis) =
                (String::new(), String::new(), String::new());
            for line in lines.by_ref() {
                let line = line.expect("stdout");
                if let Some(url) = line.strip_prefix("dashboard: ") {
                    dashboard = url.to_owned();
                } else if let Some(url) = line.strip_prefix("nats: ") {
                    nats = url.to_owned();
                } else if let Some(url) = line.strip_prefix("redis: ") {
                    redis = url.to_owned();
                } else if line.starts_with("Sightline is up") {
                    break;
                }
            }
            // Keep draining, so the process never writes to a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            (dashboard, nats, redis)
        })
        .await
        .expect("stdout read");
        assert!(
            dashboard.starts_with("http://127.0.0.1:"),
            "up printed its dashboard: {dashboard:?}"
        );
        Up {
            process,
            dashboard,
            nats,
            redis,
        }
    }

    /// GET `path` (relative to the dashboard) as JSON; `None` while it fails.
    pub async fn json(&self, path: &str) -> Option<serde_json::Value> {
        let r = reqwest::get(format!("{}{path}", self.dashboard))
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        serde_json::from_slice(&r.bytes().await.ok()?).ok()
    }

    /// Publishes `count` generated events of `seed`, stamped from two minutes ago,
    /// with `sightline generate --publish` against this `up`'s NATS.
    pub fn generate(&self, dir: &Path, count: u64, seed: u64) {
        let start = time::OffsetDateTime::now_utc() - Duration::from_secs(120);
        let start = start
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a time formats");
        let fed = Command::new(sightline_bin())
            .args([
                "generate",
                "--count",
                &count.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args(["--start", &start, "--publish"])
            .env("SIGHTLINE_NATS__URL", &self.nats)
            .env("RUST_LOG", "warn")
            .current_dir(dir)
            .output()
            .expect("sightline generate runs");
        assert!(
            fed.status.success(),
            "{}",
            String::from_utf8_lossy(&fed.stderr)
        );
    }

    /// Whether /readyz answers 200 within `timeout`.
    pub async fn ready_within(&self, timeout: Duration) -> bool {
        eventually(timeout, || async { self.json("readyz").await.is_some() }).await
    }
}
