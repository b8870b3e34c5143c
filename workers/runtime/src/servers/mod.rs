//! Real servers run as child processes: `sightline up` and the benchmarks use them
//! when no URL is configured, and the test kit starts them on random ports.
//! A [`ChildServer`] is killed and reaped when dropped, gets SIGTERM when its parent
//! dies however it dies (Linux), and is ready when it answers real commands.

mod leftover;
mod ready;

pub use ready::Probe;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A server process on a loopback port.
#[derive(Debug)]
pub struct ChildServer {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server cleanly (SIGTERM: NATS and Redis flush their files), or
    /// kills it if it is still running after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if !self.is_running() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.is_running() {
            tracing::warn!(server = self.name, "did not stop in time; killing it");
        }
        self.kill();
    }

    /// Checks that the server has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        tracing::debug!(server = self.name, addr = %self.addr, "stopping child server");
        self.kill();
    }
}

/// Finds a server binary: the configured path, then `.tools/venv/bin/<name>` in
/// this directory or any parent of it or of the running executable, then PATH.
pub fn find_binary(name: &str, configured: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(Error::Server(format!(
                "configured {name} binary {} does not exist",
                path.display()
            )))
        };
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join(".tools/venv/bin").join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Server(format!("{name} not found: run `just setup` (ops/install.sh) or set servers.{} in the config", name.replace('-', "_"))))
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, Error> {
    // The kernel may offer a port it just offered (the probe is closed at once):
    // within one process, never hand out the same port twice.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..20 {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding a free port", e))?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| Error::io("reading a free port", e))?;
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(Error::Server("no free port found".into()))
}

/// Starts nats-server with JetStream, storing under `data_dir`. `port` 0 picks one.
/// Ready when JetStream answers; its log and pid file are in `<data_dir>/nats`.
pub fn start_nats(bin: &Path, data_dir: &Path, port: u16) -> Result<ChildServer, Error> {
    let dir = data_dir.join("nats");
    let files = ServerFiles::in_dir("nats-server", &dir)?;
    spawn_with(
        "nats-server",
        port,
        Probe::JetStream,
        Some(&files),
        |port| {
            let mut cmd = Command::new(bin);
            cmd.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                .arg(&dir)
                .arg("-P")
                .arg(&files.pid);
            cmd
        },
    )
}

/// Starts redis-server with its files under `data_dir`. `port` 0 picks one.
/// Ready when PING answers PONG (not LOADING while it reads its AOF back).
pub fn start_redis(
    bin: &Path,
    data_dir: &Path,
    port: u16,
    append_only: bool,
) -> Result<ChildServer, Error> {
    let dir = data_dir.join("redis");
    let files = ServerFiles::in_dir("redis-server", &dir)?;
    spawn_with("redis-server", port, Probe::Redis, Some(&files), |port| {
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", if append_only { "yes" } else { "no" }])
        .arg("--dir")
        .arg(&dir)
        .arg("--pidfile")
        .arg(&files.pid);
        cmd
    })
}

/// A data-dir server's pid file and log.
struct ServerFiles {
    dir: PathBuf,
    pid: PathBuf,
    log: PathBuf,
}

impl ServerFiles {
    fn in_dir(name: &str, dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Self {
            dir: dir.to_owned(),
            pid: dir.join(format!("{name}.pid")),
            log: dir.join(format!("{name}.log")),
        })
    }

    /// The last lines of the server's log, for an error that says why it stopped.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

/// Spawns a server and waits until it accepts connections. A random port taken by
/// someone else between the probe and the bind is retried on another port.
pub fn spawn_ready(
    name: &'static str,
    port: u16,
    command: impl Fn(u16) -> Command,
) -> Result<ChildServer, Error> {
    spawn_with(name, port, Probe::Listening, None, command)
}

/// Spawns a server and waits until `probe` says it is ready. With `files`, a
/// leftover of an earlier run on the same data dir is stopped first, and the
/// server's output goes to its log.
fn spawn_with(
    name: &'static str,
    port: u16,
    probe: Probe,
    files: Option<&ServerFiles>,
    command: impl Fn(u16) -> Command,
) -> Result<ChildServer, Error> {
    if let Some(files) = files {
        leftover::stop_leftover(name, &files.pid, &files.dir);
    }
    let attempts = if port == 0 { 3 } else { 1 };
    let mut last_err = None;
    for _ in 0..attempts {
        let port = if port == 0 { free_port()? } else { port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = command(port);
        // Its own process group: a Ctrl-C in the terminal reaches Sightline, which
        // stops its workers first and its servers last, not the servers at once.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        die_with_parent(&mut command);
        let (stdout, stderr) = match files {
            Some(f) => output_to(&f.log)?,
            None => (Stdio::null(), Stdio::null()),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::io(format!("starting {name}"), e))?;
        let mut server = ChildServer { name, child, addr };
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut answer = String::from("no answer");
        loop {
            match probe.check(addr) {
                // Another process may hold the port while ours failed to bind it:
                // ours must still be running a moment later.
                Ok(()) => {
                    std::thread::sleep(Duration::from_millis(100));
                    if server.is_running() {
                        tracing::info!(server = name, %addr, "child server ready");
                        return Ok(server);
                    }
                }
                Err(e) => answer = e,
            }
            if !server.is_running() {
                let why = files.map(ServerFiles::tail).unwrap_or_default();
                last_err = Some(Error::Server(format!(
                    "{name} exited at start on port {port}: {why}"
                )));
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Server(format!(
                    "{name} was not ready on {addr} within {READY_TIMEOUT:?} ({answer})"
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    Err(last_err.unwrap_or_else(|| Error::Server(format!("{name} did not start"))))
}

/// The server's stdout and stderr, appended to `log`.
fn output_to(log: &Path) -> Result<(Stdio, Stdio), Error> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))
    };
    Ok((Stdio::from(open()?), Stdio::from(open()?)))
}

/// The child gets SIGTERM when the thread that spawned it ends: whatever kills
/// Sightline (SIGKILL included), its servers stop too, flushing their files, and
/// never hold the port or the data dir against the next start. Servers are
/// spawned from threads that live as long as their owner (the main thread for
/// `sightline up`), never from a pool thread that may retire.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (prctl, getppid, raise), with no allocation.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the prctl: nobody would signal us.
            if libc::getppid() as u32 != parent {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
