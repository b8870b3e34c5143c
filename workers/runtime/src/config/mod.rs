//! Layered configuration: built-in defaults, then `sightline.toml` (or the file
//! named by `--config`), then `SIGHTLINE_*` environment variables with `__` for
//! nesting (`SIGHTLINE_NATS__URL`). Unknown keys are refused with their path.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::Error;

mod alerts;
mod api;
mod counters;
mod fraud;
mod syslog;
pub use alerts::{
    AlertsSettings, EscalationSettings, InhibitSettings, ReceiverFormat, ReceiverSettings,
    RouteSettings, TemplateSettings, TimeIntervalSettings,
};
pub use api::{ApiKey, ApiSettings, Role};
pub use counters::{CountersSettings, RedisSettings, Resolution};
pub use fraud::{FraudBackend, FraudSettings, MongoSettings};
pub use syslog::SyslogSettings;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where projections and embedded servers keep their files.
    pub data_dir: PathBuf,
    pub nats: NatsSettings,
    pub streams: StreamsSettings,
    pub consumer: ConsumerSettings,
    pub publisher: PublisherSettings,
    pub telemetry: TelemetrySettings,
    pub servers: ServerBinaries,
    pub search: SearchSettings,
    pub fraud: FraudSettings,
    pub redis: RedisSettings,
    pub counters: CountersSettings,
    pub alerts: AlertsSettings,
    pub api: ApiSettings,
    pub syslog: SyslogSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchBackend {
    /// An index under `<data_dir>/search/tantivy`: one machine, no server.
    Tantivy,
    Elasticsearch,
}

/// The search and analytics projection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSettings {
    pub backend: SearchBackend,
    /// Documents older than this many days are deleted (0 keeps everything).
    pub retention_days: u32,
    /// 64 hex characters keying the hashes that stand in for card fingerprints and
    /// IPs. Unset: a random key kept in `<data_dir>/search/pii.key`. Every indexer
    /// of one index must share the key, and the API needs it to look cards up.
    pub pii_key: Option<Secret>,
    /// Events per indexing batch (one commit each).
    pub batch_size: usize,
    /// How long a partial indexing batch waits to fill (`consumer.batch_linger` for
    /// the index). Every Tantivy commit closes a segment: a term dictionary, a dozen
    /// files and their fsyncs, and merges later. Under steady traffic this paces the
    /// commits, as `refresh_interval` does in Elasticsearch; it bounds how stale a
    /// search can be.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    pub elasticsearch: ElasticsearchSettings,
}

/// The scale-out search backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElasticsearchSettings {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// API key as `id:secret` (used instead of username and password).
    pub api_key: Option<Secret>,
    /// PEM file of the CA that signed the cluster's certificate.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate validation (development clusters only).
    pub tls_insecure: bool,
    /// Daily indices are `<prefix>-YYYY.MM.DD`; the read alias is `<prefix>`.
    pub index_prefix: String,
    pub shards: u32,
    pub replicas: u32,
    /// Largest `_bulk` request body.
    pub bulk_max_bytes: usize,
    /// `_bulk` requests in flight at once.
    pub bulk_in_flight: usize,
    /// Attempts for items answered 429 or 5xx (and for failed requests).
    pub retries: u32,
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Refresh after each bulk so documents are searchable at once (tests, demos).
    pub refresh_on_write: bool,
}

impl Default for ElasticsearchSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9200".into(),
            username: None,
            password: None,
            api_key: None,
            ca_file: None,
            tls_insecure: false,
            index_prefix: "sightline-logs".into(),
            shards: 1,
            replicas: 1,
            bulk_max_bytes: 5 * 1024 * 1024,
            bulk_in_flight: 2,
            retries: 5,
            retry_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(30),
            refresh_on_write: false,
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            backend: SearchBackend::Tantivy,
            retention_days: 30,
            pii_key: None,
            batch_size: 50_000,
            batch_linger: Duration::from_millis(250),
            elasticsearch: ElasticsearchSettings::default(),
        }
    }
}

/// A string that never shows in logs or debug output.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsSettings {
    /// `None` means "no server configured": commands that can, start their own.
    pub url: Option<String>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    /// Path to a `.creds` file (NKey + JWT).
    pub credentials_file: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of JetStream API requests and publish acks.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: None,
            user: None,
            password: None,
            token: None,
            credentials_file: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    File,
    Memory,
}

/// Limits of one stream. Byte sizes are plain integers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamLimits {
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// -1 means unlimited.
    pub max_bytes: i64,
    pub max_msg_size: i32,
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    pub storage: Storage,
    pub replicas: usize,
}

impl StreamLimits {
    fn days(days: u64, max_bytes: i64) -> Self {
        Self {
            max_age: Duration::from_secs(days * 86_400),
            max_bytes,
            max_msg_size: 1024 * 1024,
            duplicate_window: Duration::from_secs(120),
            storage: Storage::File,
            replicas: 1,
        }
    }
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self::days(7, -1)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamsSettings {
    pub logs: StreamLimits,
    pub fraud: StreamLimits,
    pub alerts: StreamLimits,
    pub dlq: StreamLimits,
}

impl Default for StreamsSettings {
    fn default() -> Self {
        Self {
            // JetStream reserves max_bytes up front, so defaults bound streams by age
            // only; production deployments set byte limits that fit their disks.
            logs: StreamLimits::days(7, -1),
            fraud: StreamLimits::days(90, -1),
            alerts: StreamLimits::days(90, -1),
            dlq: StreamLimits::days(30, -1),
        }
    }
}

/// How workers consume. Shared by every worker unless a worker overrides it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerSettings {
    /// Most messages applied in one projection batch.
    pub batch_size: usize,
    /// How long a partial batch waits for more messages before it is applied.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    /// Redelivery after this long without an ack.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Deliveries before a message that keeps failing goes to the DLQ.
    pub max_deliver: i64,
    /// Apply attempts of one batch in process before it is handed back to the server.
    pub retry_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_backoff_max: Duration,
    /// A worker with pending messages, or a batch in hand, and no progress for this
    /// long reports unhealthy.
    #[serde(with = "humantime_serde")]
    pub stall_after: Duration,
    /// Where /metrics and /healthz listen; port 0 picks a free port.
    pub metrics_addr: Option<SocketAddr>,
}

impl ConsumerSettings {
    /// These settings with a projection's own batch size (`search.batch_size`,
    /// `fraud.batch_size`).
    pub fn with_batch_size(&self, batch_size: usize) -> Self {
        Self {
            batch_size,
            ..self.clone()
        }
    }
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            batch_linger: Duration::from_millis(50),
            ack_wait: Duration::from_secs(30),
            max_deliver: 10,
            retry_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(10),
            stall_after: Duration::from_secs(120),
            metrics_addr: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublisherSettings {
    /// Publish acks awaited at once; the producer waits when this many are out.
    pub max_in_flight: usize,
    /// Republish attempts of a message whose ack timed out (safe: de-duplicated by id).
    pub retries: u32,
    /// Encoding of published events.
    pub encoding: sightline_schemas::Encoding,
}

impl Default for PublisherSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 4096,
            retries: 3,
            encoding: sightline_schemas::Encoding::MsgPack,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// A tracing filter such as `info,sightline_runtime=debug`; RUST_LOG wins when set.
    pub log_filter: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            log_filter: "info,async_nats=warn".into(),
        }
    }
}

/// Where to find server binaries when Sightline starts its own. Empty means:
/// `.tools/venv/bin` of the checkout (as `ops/install.sh` lays it out), then PATH.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerBinaries {
    pub nats_server: Option<PathBuf>,
    pub redis_server: Option<PathBuf>,
}

impl Settings {
    /// How the indexer consumes: the shared settings with the index's own batch size
    /// and linger.
    pub fn indexer_consumer(&self) -> ConsumerSettings {
        ConsumerSettings {
            batch_size: self.search.batch_size,
            batch_linger: self.search.batch_linger,
            ..self.consumer.clone()
        }
    }

    /// Loads defaults, then the TOML file (optional unless named explicitly), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Error> {
        let mut figment = Figment::from(Serialized::defaults(Settings {
            data_dir: PathBuf::from("data"),
            ..Settings::default()
        }));
        match file {
            Some(path) if !path.exists() => {
                return Err(Error::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("sightline.toml")),
        }
        // SIGHTLINE_CONFIG names the file itself and is read by the CLI.
        figment = figment.merge(Env::prefixed("SIGHTLINE_").split("__").ignore(&["config"]));
        figment.extract().map_err(|e| Error::Config(describe(e)))
    }
}

fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
// figment's Jail closures must return figment::Error, which is large; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_then_file_then_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "sightline.toml",
                r#"
                [nats]
                url = "nats://10.0.0.1:4222"
                [consumer]
                batch_size = 250
                ack_wait = "45s"
                [streams.logs]
                max_age = "3d"
                [search]
                batch_linger = "1s"
                "#,
            )?;
            jail.set_env("SIGHTLINE_CONSUMER__BATCH_SIZE", "64");
            jail.set_env("SIGHTLINE_TELEMETRY__LOG_FORMAT", "json");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.nats.url.as_deref(), Some("nats://10.0.0.1:4222"));
            assert_eq!(s.consumer.batch_size, 64, "environment wins over the file");
            assert_eq!(s.consumer.ack_wait, Duration::from_secs(45));
            assert_eq!(s.search.batch_linger, Duration::from_secs(1));
            let indexer = s.indexer_consumer();
            assert_eq!(indexer.batch_linger, Duration::from_secs(1));
            assert_eq!(indexer.batch_size, s.search.batch_size);
            assert_eq!(
                indexer.ack_wait,
                Duration::from_secs(45),
                "shared settings kept"
            );
            assert_eq!(s.consumer.max_deliver, 10, "defaults fill the rest");
            assert_eq!(s.streams.logs.max_age, Duration::from_secs(3 * 86_400));
            assert_eq!(s.streams.fraud.max_age, Duration::from_secs(90 * 86_400));
            assert_eq!(s.telemetry.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        Jail::expect_with(|jail| {
            jail.create_file("sightline.toml", "[consumer]\nbatch_sise = 5\n")?;
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(
                err.contains("batch_sise") && err.contains("consumer"),
                "{err}"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("SIGHTLINE_NATS__URLL", "x");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("urll"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_named_config_file_must_exist_and_bad_values_name_the_key() {
        Jail::expect_with(|jail| {
            let err = Settings::load(Some(Path::new("missing.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("missing.toml"), "{err}");
            jail.create_file("bad.toml", "[consumer]\nack_wait = \"soon\"\n")?;
            let err = Settings::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("ack_wait"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_readme_configuration_example_loads() {
        let readme = include_str!("../../../../README.md");
        let section = &readme[readme.find("## Configuration").expect("section")..];
        let start = section.find("```toml\n").expect("toml block") + 8;
        let block = &section[start..start + section[start..].find("```").expect("end")];
        Jail::expect_with(|jail| {
            jail.create_file("sightline.toml", block)?;
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.counters.resolutions.len(), 3);
            assert_eq!(s.counters.resolutions[1].step, Duration::from_secs(60));
            assert_eq!(s.search.batch_size, SearchSettings::default().batch_size);
            assert_eq!(s.syslog.tcp, None, "the listener is off unless asked for");
            assert_eq!(s.syslog.rfc3164_offset, "+00:00");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        Jail::expect_with(|jail| {
            jail.set_env("SIGHTLINE_NATS__PASSWORD", "hunter2");
            jail.set_env("SIGHTLINE_NATS__USER", "svc");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.nats.password, Some(Secret("hunter2".into())));
            let shown = format!("{s:?}");
            assert!(
                !shown.contains("hunter2") && shown.contains("svc"),
                "{shown}"
            );
            Ok(())
        });
    }
}
