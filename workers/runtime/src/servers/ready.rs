//! When a child server is ready: not when its port accepts a connection, but when
//! it answers real commands. Redis answers PING with `-LOADING` while it reads its
//! append-only file back; nats-server accepts connections before JetStream has
//! recovered its streams. Both probes speak the servers' plain-text protocols.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// How to tell a server is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The port accepts connections.
    Listening,
    /// `PING` answers `+PONG` (not `-LOADING`).
    Redis,
    /// JetStream answers an account info request.
    JetStream,
}

impl Probe {
    /// `Ok(())` when ready; otherwise what it answered, for the log.
    pub fn check(self, addr: SocketAddr) -> Result<(), String> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        match self {
            Probe::Listening => Ok(()),
            Probe::Redis => redis_ping(stream),
            Probe::JetStream => jetstream_info(stream),
        }
    }
}

fn redis_ping(mut stream: TcpStream) -> Result<(), String> {
    stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    match line.trim_end() {
        "+PONG" => Ok(()),
        other => Err(format!("PING answered {other:?}")),
    }
}

/// Requests `$JS.API.INFO` and reads the reply: an account info without error.
fn jetstream_info(mut stream: TcpStream) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let mut reader = BufReader::new(stream.try_clone().map_err(io)?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(io)?;
    if !line.starts_with("INFO ") {
        return Err(format!("greeted with {:?}", line.trim_end()));
    }
    stream
        .write_all(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n\
              SUB _SIGHTLINE.ready 1\r\n\
              PUB $JS.API.INFO _SIGHTLINE.ready 0\r\n\r\n",
        )
        .map_err(io)?;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            return Err("the connection closed".into());
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["PING"] => stream.write_all(b"PONG\r\n").map_err(io)?,
            // A status message: 503, no responders (JetStream not up yet).
            ["HMSG", .., total] => {
                let body = read_payload(&mut reader, total)?;
                return Err(String::from_utf8_lossy(&body)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned());
            }
            ["MSG", .., size] => {
                let body = read_payload(&mut reader, size)?;
                let reply = String::from_utf8_lossy(&body);
                return if reply.contains("account_info_response") && !reply.contains("\"error\"") {
                    Ok(())
                } else {
                    Err(reply.into_owned())
                };
            }
            ["-ERR", ..] => return Err(line.trim_end().to_owned()),
            _ => {}
        }
    }
}

/// `size` bytes of payload and the CRLF after them.
fn read_payload(reader: &mut impl Read, size: &str) -> Result<Vec<u8>, String> {
    let size: usize = size
        .parse()
        .map_err(|_| format!("a payload size of {size:?}"))?;
    let mut body = vec![0; size + 2];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    body.truncate(size);
    Ok(body)
}
