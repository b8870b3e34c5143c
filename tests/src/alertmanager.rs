//! Debian's prometheus-alertmanager (ops/install.sh), a real Alertmanager, for
//! the alertmanager-format receiver: alone (no cluster), on a random port, its
//! alerts readable at `GET /api/v2/alerts`.

use std::path::Path;

use sightline_runtime::servers::{self, ChildServer};

pub struct AlertmanagerPeer {
    pub server: ChildServer,
    _dir: tempfile::TempDir,
}

/// Every alert to a receiver that sends nothing: the test reads what it holds.
const CONFIG: &str = "route:\n  receiver: hold\nreceivers:\n  - name: hold\n";

impl AlertmanagerPeer {
    pub fn start() -> AlertmanagerPeer {
        let bin = Path::new("/usr/bin/prometheus-alertmanager");
        assert!(
            bin.is_file(),
            "{} not installed: run `just setup`",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("alertmanager.yml"), CONFIG).unwrap();
        let server = servers::spawn_ready("alertmanager", 0, |port| {
            let mut cmd = std::process::Command::new(bin);
            cmd.arg(format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
            cmd
        })
        .unwrap_or_else(|e| panic!("alertmanager starts: {e}"));
        AlertmanagerPeer { server, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}
