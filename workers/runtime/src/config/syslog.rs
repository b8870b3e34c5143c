//! Settings of the syslog listener (served by `sightline api` and `sightline up`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogSettings {
    /// Where to take syslog over TCP (RFC 6587: octet counting or one message per
    /// line). Unset: no TCP listener.
    pub tcp: Option<SocketAddr>,
    /// Where to take syslog over UDP (one message per datagram). Unset: none.
    pub udp: Option<SocketAddr>,
    /// The UTC offset of RFC 3164 timestamps, which carry none (`+01:00`).
    pub rfc3164_offset: String,
    /// Messages per publish batch.
    pub batch_size: usize,
    /// How long a partial batch waits to fill.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    /// Open TCP connections at most; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        Self {
            tcp: None,
            udp: None,
            rfc3164_offset: "+00:00".into(),
            batch_size: 1000,
            batch_linger: Duration::from_millis(100),
            max_connections: 256,
        }
    }
}
