//! A server left running by an earlier `sightline up` that died without stopping
//! it (killed with SIGKILL before its children got their parent-death signal, or
//! from a version without one). Each server writes a pid file in its data dir; on
//! the next start a live process of that pid, running that server on that data
//! dir, is stopped first and the operator told. A stale pid file (the process gone,
//! or the pid reused by something else) is only removed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const GRACE: Duration = Duration::from_secs(10);

/// Stops the leftover `name` of `data_dir` that `pid_file` names, if there is one.
pub(super) fn stop_leftover(name: &str, pid_file: &Path, data_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return;
    };
    let _ = std::fs::remove_file(pid_file);
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    if !runs(pid, name, data_dir) {
        return;
    }
    tracing::warn!(
        server = name,
        pid,
        data_dir = %data_dir.display(),
        "stopping a leftover server of this data dir (an earlier run did not stop it)"
    );
    signal(pid, "-TERM");
    let deadline = Instant::now() + GRACE;
    while runs(pid, name, data_dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if runs(pid, name, data_dir) {
        tracing::warn!(
            server = name,
            pid,
            "the leftover did not stop in time; killing it"
        );
        signal(pid, "-KILL");
        while runs(pid, name, data_dir) && Instant::now() < deadline + GRACE {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether process `pid` is `name` running on `data_dir` (its command line says so).
fn runs(pid: u32, name: &str, data_dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // A zombie has an empty command line: it holds no port.
    let cmdline = String::from_utf8_lossy(&cmdline);
    let dir = data_dir.to_string_lossy();
    cmdline.contains(name) && cmdline.contains(dir.as_ref())
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leftover_of_this_data_dir_is_stopped_and_a_stale_pid_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A shell stands in for a server: its command line names it and the data dir.
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "sleep 60; :", "fake-server"])
            .arg(&data)
            .spawn()
            .unwrap();
        let pid_file = dir.path().join("server.pid");
        // Until it has exec'd, the child's command line is the test binary's.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !runs(child.id(), "fake-server", &data) {
            assert!(Instant::now() < deadline, "the stand-in started");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(&pid_file, child.id().to_string()).unwrap();
        // Another data dir's pid file does not stop it.
        stop_leftover("fake-server", &pid_file, &dir.path().join("other"));
        assert!(matches!(child.try_wait(), Ok(None)), "not ours: left alone");
        std::fs::write(&pid_file, child.id().to_string()).unwrap();
        let reaper = std::thread::spawn(move || child.wait().unwrap());
        stop_leftover("fake-server", &pid_file, &data);
        assert!(!reaper.join().unwrap().success(), "stopped by a signal");
        assert!(!pid_file.exists());
        // A stale file naming a dead pid is only removed.
        std::fs::write(&pid_file, "999999999").unwrap();
        stop_leftover("fake-server", &pid_file, &data);
        assert!(!pid_file.exists());
    }
}
