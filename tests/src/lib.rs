//! The test kit: real servers on random loopback ports with temporary data dirs,
//! cleaned up on drop, and a helper that runs the real `sightline` binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use sightline_generator::Generator;
use sightline_runtime::consumer::WorkerSpec;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::servers::{self, ChildServer};
use sightline_runtime::{topology, Bus, Settings};
use sightline_schemas::{Event, OffsetDateTime};

/// A NATS server with the Sightline streams applied, and settings pointing at it.
pub struct Stack {
    pub settings: Settings,
    pub bus: Bus,
    pub nats: ChildServer,
    pub dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start() -> Stack {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin =
            servers::find_binary("nats-server", None).expect("nats-server installed (just setup)");
        let nats = servers::start_nats(&bin, dir.path(), 0).expect("nats-server starts");
        let mut settings = Settings {
            data_dir: dir.path().join("data"),
            ..Settings::default()
        };
        settings.nats.url = Some(nats_url(&nats));
        settings.consumer.ack_wait = Duration::from_secs(2);
        settings.consumer.batch_linger = Duration::from_millis(20);
        settings.consumer.retry_backoff_max = Duration::from_millis(200);
        let bus = Bus::connect(&settings.nats, settings.publisher.max_in_flight)
            .await
            .expect("connect");
        topology::apply(&bus, &settings.streams, false)
            .await
            .expect("streams apply");
        Stack {
            settings,
            bus,
            nats,
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sightline <args>` on this stack: its NATS and data dir, in its directory (so
    /// a `sightline.toml` there applies), logging warnings only.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(sightline_bin());
        cmd.args(args)
            .env(
                "SIGHTLINE_NATS__URL",
                self.settings.nats.url.as_deref().unwrap_or_default(),
            )
            .env("SIGHTLINE_DATA_DIR", self.path("data"))
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `sightline <args>` against this stack, feeding `stdin` when given.
    pub fn sightline(&self, args: &[&str], stdin: Option<&Path>) -> Output {
        let mut cmd = self.command(args);
        if let Some(path) = stdin {
            cmd.stdin(std::fs::File::open(path).expect("stdin file"));
        }
        cmd.output().expect("sightline runs")
    }

    /// Publishes `n` generated events (stamped an hour ago) through the real Publisher.
    pub async fn publish_generated(&self, seed: u64, n: usize) -> Vec<Event> {
        let start = OffsetDateTime::now_utc() - Duration::from_secs(3600);
        let events: Vec<Event> = Generator::new(seed, start, 500).take(n).collect();
        self.publish(&events).await;
        events
    }

    /// Publishes events through the real Publisher; all must be new.
    pub async fn publish(&self, events: &[Event]) {
        let publisher = Publisher::new(&self.bus, &self.settings.publisher);
        let mut pipeline = publisher.pipeline();
        for e in events {
            pipeline.send(e).await.expect("valid event");
        }
        let summary = pipeline.finish().await.expect("published");
        assert_eq!(summary.published as usize, events.len());
    }

    /// The bytes [`Stack::publish_undecodable`] plants.
    pub const UNDECODABLE: &'static str = "\u{c1}not msgpack";

    /// Publishes bytes that decode as no event straight to `subject`; returns its
    /// stream sequence.
    pub async fn publish_undecodable(&self, subject: &str) -> u64 {
        self.bus
            .js
            .publish(subject.to_owned(), Self::UNDECODABLE.into())
            .await
            .expect("published")
            .await
            .expect("stored")
            .sequence
    }

    /// Publishes an event as JSON straight to `subject`, past the Publisher's
    /// validation, to plant a bad one; returns its stream sequence.
    pub async fn publish_unchecked(&self, subject: &str, event: &Event) -> u64 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        let json = sightline_schemas::encode(event, sightline_schemas::Encoding::Json)
            .expect("the event encodes");
        self.bus
            .js
            .publish_with_headers(subject.to_owned(), headers, json.into())
            .await
            .expect("published")
            .await
            .expect("stored")
            .sequence
    }

    /// Starts `sightline worker <kinds>` on this stack with extra environment;
    /// `kinds` is one kind, or several separated by spaces for one process.
    pub fn worker(&self, kinds: &str, env: &[(&str, &str)]) -> WorkerProcess {
        let mut args = vec!["worker"];
        args.extend(kinds.split_whitespace());
        self.spawn(&args, env, std::process::Stdio::null())
    }

    /// Starts a long-running `sightline <args>` on this stack (in its directory,
    /// so a `sightline.toml` there applies).
    pub fn spawn(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdout: std::process::Stdio,
    ) -> WorkerProcess {
        let child = self
            .command(args)
            .envs(env.iter().copied())
            .stdout(stdout)
            .spawn()
            .expect("sightline starts");
        WorkerProcess(child)
    }

    /// Whether the worker behind consumer `name` of `stream` has applied all it
    /// reads: nothing left to deliver, nothing unacked, and for a cursor consumer
    /// (no acks) its recorded progress at what was delivered.
    pub async fn consumer_caught_up(&self, stream: &str, name: &str) -> bool {
        sightline_runtime::consumer::caught_up(&self.bus, stream, name)
            .await
            .unwrap_or(false)
    }

    /// The dead letter at DLQ sequence `seq`.
    pub async fn dead_letter(&self, seq: u64) -> async_nats::jetstream::message::StreamMessage {
        let dlq = self.bus.js.get_stream("DLQ").await.expect("DLQ exists");
        dlq.get_raw_message(seq).await.expect("dead letter stored")
    }

    /// Messages stored in a stream now.
    pub async fn stream_messages(&self, name: &str) -> u64 {
        self.stream_state(name).await.messages
    }

    /// The last sequence stored in stream `name`.
    pub async fn stream_head(&self, name: &str) -> u64 {
        self.stream_state(name).await.last_sequence
    }

    async fn stream_state(&self, name: &str) -> async_nats::jetstream::stream::State {
        let mut stream = self.bus.js.get_stream(name).await.expect("stream exists");
        stream.info().await.expect("stream info").state.clone()
    }
}

/// A `sightline worker` process, killed when dropped so a failing test leaves no
/// orphan behind.
pub struct WorkerProcess(pub std::process::Child);

impl WorkerProcess {
    /// SIGKILL: no shutdown, no final ack or save.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, then waits; panics unless the worker exits 0.
    pub fn stop(mut self) {
        let term = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(term.success());
        let status = self.0.wait().expect("worker exits");
        assert!(status.success(), "a graceful stop exits 0: {status}");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Asserts the SQLite detections store at `path` holds exactly `expected`:
/// id -> (revision, score).
pub async fn detections_are(
    path: &Path,
    expected: &std::collections::HashMap<sightline_schemas::Uuid, (u32, u8)>,
) {
    use sightline_fraud::store::{sqlite::SqliteStore, DetectionStore};
    let store = SqliteStore::open_read_only(path).expect("the store opens");
    assert_eq!(store.count().await.unwrap(), expected.len() as u64);
    for (id, (revision, score)) in expected {
        let d = store
            .get(id)
            .await
            .unwrap()
            .expect("every detection stored");
        assert_eq!((d.revision, d.score), (*revision, *score), "{id}");
    }
}

/// A worker reading all of LOGS under the durable name `name`.
pub fn logs_worker(name: &str) -> WorkerSpec {
    sightline_runtime::consumer::Source::Logs.spec(name)
}

/// `n` generated events with fraud episodes (1 in 100 events starts one), stamped
/// an hour ago, and those of them the fraud scorer reads.
pub fn fraud_traffic(seed: u64, n: usize) -> (Vec<Event>, Vec<Event>) {
    use sightline_schemas::Kind;
    let start = OffsetDateTime::now_utc() - Duration::from_secs(3600);
    let events: Vec<Event> = Generator::new(seed, start, sightline_generator::DEFAULT_POPULATION)
        .with_fraud_rate(0.01)
        .take(n)
        .collect();
    let scored = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind(),
                Kind::Transaction | Kind::Security | Kind::UserBehavior
            )
        })
        .cloned()
        .collect();
    (events, scored)
}

/// The final verdict per detection id, (revision, score), from one straight pass
/// of the scorer with the built-in rules over `events`.
pub fn straight_scoring(
    events: &[Event],
) -> std::collections::HashMap<sightline_schemas::Uuid, (u32, u8)> {
    let mut scorer = sightline_fraud::Scorer::new(sightline_fraud::Rules::default());
    let mut expected = std::collections::HashMap::new();
    for e in events {
        for d in scorer.observe(e) {
            expected.insert(d.id, (d.revision, d.score));
        }
    }
    expected
}

pub mod alertmanager;
pub mod api;
pub mod app;
pub mod browser;
pub mod counters;
pub mod detections_suite;
pub mod fault_proxy;
pub mod patterns;
pub mod search_suite;
pub mod smtp;
pub mod suite;
pub mod up;

pub fn nats_url(server: &ChildServer) -> String {
    format!("nats://{}", server.addr())
}

/// The `sightline` binary of this build (`cargo build --bins` puts it beside the test binaries).
pub fn sightline_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let bin = dir.join("sightline");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --bins` first",
        bin.display()
    );
    bin
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

/// A header of a stored message, or "" when absent.
pub fn header(message: &async_nats::jetstream::message::StreamMessage, name: &str) -> String {
    message
        .headers
        .get(name)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

/// JSON of the last stdout line (the summary commands print).
pub fn last_json_line(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_else(|| {
        panic!(
            "no output; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// A redis-server on a random port in its own temporary directory.
pub struct Redis {
    pub server: ChildServer,
    pub dir: tempfile::TempDir,
}

impl Redis {
    pub fn start(append_only: bool) -> Redis {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = servers::find_binary("redis-server", None)
            .expect("redis-server installed (just setup)");
        let server =
            servers::start_redis(&bin, dir.path(), 0, append_only).expect("redis-server starts");
        Redis { server, dir }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.server.addr())
    }
}

/// A plain HTTP/1.1 GET on loopback: `(status, body)`.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of one sample line of a Prometheus text exposition, if present.
pub fn metric_value(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

/// An Elasticsearch API emulator from PyPI (../shared/peers.md), on a random port.
pub struct SearchPeer {
    pub server: ChildServer,
    pub dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
pub enum SearchEmulator {
    /// OpenSearch 3 emulation, in memory: the full aggregation set.
    Osmem,
    /// Elasticsearch 8.15 emulation, on disk: no percentiles.
    Noida,
}

impl SearchPeer {
    pub fn start(kind: SearchEmulator) -> SearchPeer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().to_owned();
        let server = match kind {
            SearchEmulator::Osmem => {
                let bin = site_package("osmem_server/bin/osmem-server");
                servers::spawn_ready("osmem-server", 0, |port| {
                    let mut cmd = std::process::Command::new(&bin);
                    cmd.args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"]);
                    cmd
                })
            }
            SearchEmulator::Noida => {
                let bin = site_package("noida_db/noida-db");
                servers::spawn_ready("noida-db", 0, |port| {
                    let mut cmd = std::process::Command::new(&bin);
                    cmd.arg("start").arg("--data-dir").arg(&data);
                    cmd.args([
                        "--host",
                        "127.0.0.1",
                        "--only",
                        "elasticsearch",
                        "--elasticsearch-port",
                        &port.to_string(),
                    ]);
                    cmd
                })
            }
        };
        SearchPeer {
            server: server.unwrap_or_else(|e| panic!("{kind:?} starts: {e}")),
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

/// SecantusDB, a MongoDB wire-protocol server from PyPI (../shared/peers.md), in
/// memory on a random port.
pub struct MongoPeer {
    pub server: ChildServer,
}

impl MongoPeer {
    pub fn start() -> MongoPeer {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/secantusd-py");
        assert!(
            bin.is_file(),
            "{} not installed: run `just setup`",
            bin.display()
        );
        let server = servers::spawn_ready("secantusd", 0, |port| {
            let mut cmd = std::process::Command::new(&bin);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            cmd.args(["--storage-path", ":memory:"]);
            cmd
        })
        .unwrap_or_else(|e| panic!("secantusd starts: {e}"));
        MongoPeer { server }
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}/", self.server.addr())
    }
}

/// A file installed by ops/install.sh under the venv's site-packages.
fn site_package(relative: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/lib");
    std::fs::read_dir(&root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages").join(relative))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{relative} not installed under {}: run `just setup`",
                root.display()
            )
        })
}
