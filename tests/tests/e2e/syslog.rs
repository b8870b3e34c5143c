//! The syslog listener, fed by real senders: util-linux `logger` (RFC 5424 over
//! TCP, with octet counting and with newline framing, and over UDP) and rsyslog
//! (Debian's, run in the foreground by the test) forwarding a file it follows;
//! then bytes that are no syslog at all.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use sightline_tests::api::ApiStack;

/// A loopback port free a moment ago.
fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

fn logger(args: &[&str]) {
    let out = Command::new("logger")
        .args(args)
        .output()
        .expect("util-linux logger runs");
    assert!(
        out.status.success(),
        "logger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A search for log events (`query` as in `/api/search`).
fn logs(query: &str) -> String {
    format!("/api/search?kind=log&size=50&{query}")
}

/// rsyslog in the foreground, following `file` and forwarding it over TCP in
/// RFC 5424; killed on drop.
struct Rsyslog(std::process::Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rsyslog(dir: &std::path::Path, file: &std::path::Path, tcp: u16) -> Rsyslog {
    let work = dir.join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imfile" PollingInterval="1")
input(type="imfile" File="{file}" Tag="billing-batch" Facility="local3" Severity="warning"
      startmsg.regex="^[0-9]{{4}}-")
action(type="omfwd" Target="127.0.0.1" Port="{tcp}" Protocol="tcp"
       TCP_Framing="octet-counted" Template="RSYSLOG_SyslogProtocol23Format")
"#,
            work = work.display(),
            file = file.display(),
        ),
    )
    .unwrap();
    let bin = ["/usr/sbin/rsyslogd", "rsyslogd"]
        .into_iter()
        .find(|b| std::path::Path::new(b).exists() || *b == "rsyslogd")
        .unwrap();
    let child = Command::new(bin)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslog.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rsyslogd runs (ops/install.sh)");
    Rsyslog(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_and_rsyslog_send_syslog_that_becomes_log_events() {
    let (tcp, udp) = (free_port(false), free_port(true));
    let api = ApiStack::start(&format!(
        "[syslog]\ntcp = \"127.0.0.1:{tcp}\"\nudp = \"127.0.0.1:{udp}\"\nbatch_linger = \"20ms\"\n"
    ))
    .await;
    let (tcp_port, udp_port) = (tcp.to_string(), udp.to_string());

    // --- logger: RFC 5424 over TCP (both framings) and over UDP ---------------
    logger(&[
        "--rfc5424",
        "-T",
        "--octet-count",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp_port,
        "-t",
        "shop-api",
        "-p",
        "local0.err",
        "--sd-id",
        "order@32473",
        "--sd-param",
        "id=\"o-17\"",
        "payment provider timed out",
    ]);
    logger(&[
        "--rfc5424",
        "-T",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp_port,
        "-t",
        "shop-api",
        "-p",
        "local0.info",
        "order o-18 shipped",
    ]);
    logger(&[
        "--rfc5424",
        "-d",
        "-n",
        "127.0.0.1",
        "-P",
        &udp_port,
        "-t",
        "shop-udp",
        "-p",
        "user.warning",
        "queue depth 9000",
    ]);
    let shop = api.search_until(&logs("service=shop-api"), 2).await;
    let errors = api
        .search_until(&logs("service=shop-api&severity=error"), 1)
        .await;
    assert_eq!(
        errors["hits"][0]["message"], "payment provider timed out",
        "{shop}"
    );
    let udp_hit = api
        .search_until(&logs("service=shop-udp&severity=warn"), 1)
        .await;
    assert_eq!(udp_hit["hits"][0]["message"], "queue depth 9000");

    // --- rsyslog following a file, a stack trace kept with its line ----------
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("billing.log");
    std::fs::write(&file, "").unwrap();
    let _rsyslog = rsyslog(dir.path(), &file, tcp);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    writeln!(f, "2026-12-07 10:00:00 invoice run started").unwrap();
    writeln!(f, "2026-12-07 10:00:05 invoice 42 failed: ledger locked").unwrap();
    writeln!(f, "  at ledger.write(ledger.py:88)").unwrap();
    writeln!(f, "2026-12-07 10:00:09 invoice run done").unwrap();
    drop(f);
    let billing = api
        .search_until(&logs("service=billing-batch&severity=warn&q=ledger"), 1)
        .await;
    let message = billing["hits"][0]["message"].as_str().unwrap();
    assert!(message.contains("invoice 42 failed"), "{message}");
    assert!(
        message.contains("at ledger.write(ledger.py:88)"),
        "the stack line joined: {message}"
    );

    // --- bytes that are no syslog: kept, not refused, the listener unharmed ---
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    raw.write_all(b"\x00\xff not syslog at all\nsecond line\n")
        .unwrap();
    drop(raw);
    api.search_until(&logs("service=syslog&q=syslog"), 1).await;
    logger(&[
        "--rfc5424",
        "-T",
        "-n",
        "127.0.0.1",
        "-P",
        &tcp_port,
        "-t",
        "shop-api",
        "still listening",
    ]);
    api.search_until(&logs("service=shop-api"), 3).await;
}
