use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sightline_node::Role;

/// Sightline: event-sourced log monitoring on NATS JetStream.
#[derive(Parser)]
#[command(name = "sightline", version, about)]
pub struct Cli {
    /// Configuration file (default: ./sightline.toml when present).
    #[arg(long, global = true, env = "SIGHTLINE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Manage the JetStream streams.
    Streams {
        #[command(subcommand)]
        action: StreamsAction,
    },
    /// Validate and publish events from an NDJSON file or JSON array (`-` for stdin).
    Publish {
        #[arg(default_value = "-")]
        file: String,
        /// Read a log file rather than events: each record (a JSON or logfmt
        /// line, or text with a timestamp and a level; stack traces kept with
        /// their line) becomes a `log` event.
        #[arg(long)]
        format: Option<sightline_ingest::file::Format>,
        /// The service of log records that name none (default: the file's name).
        #[arg(long, requires = "format")]
        service: Option<String>,
        /// The zone of timestamps written without one.
        #[arg(long, default_value = "+00:00", requires = "format")]
        tz: String,
    },
    /// Generate realistic e-commerce traffic as NDJSON, or publish it.
    Generate(GenerateArgs),
    /// Run workers until SIGINT or SIGTERM: one, or several in one process. The
    /// LOGS readers among several (indexer, fraud, counters) take each event from
    /// the bus once, through one consumer shared by all of them.
    Worker {
        #[arg(value_enum, required = true, num_args = 1..)]
        kinds: Vec<Role>,
    },
    /// Search the event index: hits with highlights, newest first.
    Search(Box<SearchArgs>),
    /// Follow matching events as they are published, until Ctrl-C.
    Tail(TailArgs),
    /// Log patterns: what the miner makes of messages.
    Patterns {
        #[command(subcommand)]
        action: PatternsAction,
    },
    /// Anomaly detection: what the live detector makes of a series.
    Anomaly {
        #[command(subcommand)]
        action: AnomalyAction,
    },
    /// Error issues: list, show, and set their status.
    Issues {
        #[command(subcommand)]
        action: IssuesAction,
    },
    /// Read the fraud detections store.
    Fraud {
        #[command(subcommand)]
        action: FraudAction,
    },
    /// Read the real-time counters in Redis.
    Counters(CountersArgs),
    /// Active alerts and silences.
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// The whole system in one process: nats-server and redis-server as children when
    /// no URL is configured (files under `data_dir`), the streams, every worker and the
    /// API, until Ctrl-C.
    Up {
        /// Serve the API and the page here instead of `api.listen` (port 0 picks one).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Port of the nats-server started when `nats.url` is unset (0 picks one).
        #[arg(long, default_value_t = 4222)]
        nats_port: u16,
        /// Port of the redis-server started when `redis.url` is unset (0 picks one).
        #[arg(long, default_value_t = 6379)]
        redis_port: u16,
    },
    /// Each projection's watermark and lag, and every consumer's backlog.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Rebuilds projections from their streams into a new version while the live one
    /// keeps serving, then switches readers and live workers to it at once.
    Replay(ReplayArgs),
    /// Dead letters: list, show, purge.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Serve the query API, OpenAPI document and dashboard page until SIGINT or SIGTERM.
    Api {
        /// Listen here instead of `api.listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Benchmarks that print one JSON object.
    Bench {
        #[command(subcommand)]
        target: BenchTarget,
    },
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Which projection to rebuild.
    #[arg(long, value_enum)]
    pub projection: ReplayTarget,
    /// Where to start: `all`, `seq:N` (in each source stream) or `time:RFC3339`.
    #[arg(long, default_value = "all")]
    pub from: String,
    /// Where to stop (default: the stream's head once caught up): `seq:N` or
    /// `time:RFC3339`. Live workers apply what follows after the switch.
    #[arg(long)]
    pub to: Option<String>,
    /// Rebuild only these subjects (comma-separated, e.g. `logs.transaction.>`);
    /// a source none of them names is read whole.
    #[arg(long, value_delimiter = ',')]
    pub subjects: Vec<String>,
    /// At most this many events per second, to spare a busy bus or store.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Print what would be read, per source, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the replaced version's data (default: deleted once readers moved).
    #[arg(long)]
    pub keep_old: bool,
    /// With `--projection fraud`: score the whole of LOGS again under the rules now
    /// configured, into the new version (verdicts carried over), instead of copying
    /// FRAUD's detections. Restart the scorer on the new rules first.
    #[arg(long)]
    pub rescore: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayTarget {
    Search,
    Fraud,
    Counters,
    All,
}

#[derive(Subcommand)]
pub enum DlqAction {
    /// Dead letters, newest first.
    List {
        /// Only those this consumer gave up on (`indexer`, `fraud-store`...), a shared
        /// consumer it is a role of (`indexer+counters+fraud`) included.
        #[arg(long)]
        consumer: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One dead letter whole: where it came from, why, and its payload.
    Show { seq: u64 },
    /// Sends a dead letter's event (or a fixed version of it) back to the consumer
    /// that gave up on it, through validation again; the dead letter is then deleted.
    /// Events from LOGS only.
    Replay {
        seq: u64,
        /// The fixed event, as JSON (default: the dead letter's own payload).
        #[arg(long)]
        payload: Option<std::path::PathBuf>,
    },
    /// Deletes dead letters: one (`--seq`), one consumer's (`--consumer`) or all (`--all`).
    Purge {
        /// The dead letter at this DLQ sequence.
        #[arg(long)]
        seq: Option<u64>,
        /// Every one this consumer gave up on, as `list --consumer` lists them.
        #[arg(long)]
        consumer: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum StreamsAction {
    /// Create or update every stream from configuration (idempotent).
    Apply {
        /// Allow changes that can drop data (shorter retention, smaller limits, fewer subjects).
        #[arg(long)]
        force: bool,
    },
    /// Message counts per stream and pending counts per consumer.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BenchTarget {
    /// The pattern miner's grouping accuracy and speed on Loghub-format datasets
    /// (`DIR/<Name>/<Name>_2k.log_structured.csv`), one configuration for all.
    Patterns {
        #[arg(long)]
        loghub: std::path::PathBuf,
        /// Try another similarity threshold than the live one (exploration only).
        #[arg(long)]
        similarity: Option<f64>,
        /// Try another lookup depth than the live one (exploration only).
        #[arg(long)]
        depth: Option<usize>,
    },
    /// The anomaly detector on the Numenta Anomaly Benchmark's series
    /// (`DIR/data/<category>/<file>.csv`): writes a results directory NAB's scorer
    /// reads, prints points/s, and with `--score` runs `DIR/score.sh` on it.
    Anomaly {
        #[arg(long)]
        nab: std::path::PathBuf,
        /// Where the results go (`<category>/<file>.csv`); a temp dir by default.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Which series: all, or one half of each category's sorted files (`tune`:
        /// the 1st, 3rd, ...; `report`: the 2nd, 4th, ...).
        #[arg(long, value_enum, default_value = "all")]
        subset: SubsetArg,
        /// Score the results with `DIR/score.sh` and include its figures.
        #[arg(long)]
        score: bool,
    },
    /// Publisher throughput against bare async-nats publishing, in the same run.
    Publish {
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Measured rounds of each side; the best round counts.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Indexing throughput against bare consume+ack, then search and dashboard latencies.
    Indexer {
        /// Where to index: tantivy (a temp dir) or elasticsearch (search.elasticsearch.url).
        #[arg(long, value_enum, default_value = "tantivy")]
        backend: BackendArg,
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Searches timed after indexing (a quarter as many dashboard queries).
        #[arg(long, default_value_t = 400)]
        queries: usize,
    },
    /// Scoring throughput on a pre-filled stream, and detection quality against
    /// the generator's labels.
    Fraud {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Chance that an event starts a fraud episode.
        #[arg(long, default_value_t = 0.004)]
        fraud_rate: f64,
    },
    /// The scorer on the independent labeled suite (fraud scenarios and look-alikes
    /// written apart from the generator), one run per seed: precision, recall,
    /// false-positive rate, recall per scenario, false positives per look-alike.
    FraudSuite {
        /// Comma-separated seeds.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        seeds: Vec<u64>,
        #[arg(long, default_value_t = 3000)]
        customers: usize,
    },
    /// Counting throughput into Redis against bare consume+ack, and Redis round trips.
    Counters {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
    },
    /// The whole system on the embedded backends: end-to-end rate against bare
    /// publishing, publish-to-queryable freshness at 5,000 events/s, and each
    /// projection's replay rate against its live rate.
    Pipeline {
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Seconds of steady traffic for the freshness figure.
        #[arg(long, default_value_t = 10)]
        steady_seconds: u64,
        /// Share of the events that are log records.
        #[arg(long, default_value_t = 0.5)]
        log_share: f64,
    },
    /// Hours of generated traffic with labeled incidents and fraud episodes
    /// through the real workers, the alert rules evaluated over it: per rule,
    /// alerts fired inside an incident and outside any, and incidents caught.
    Alerts {
        /// Hours of traffic, ending now (at most 47: the counters keep minutes 48 h).
        #[arg(long, default_value_t = 12.0)]
        hours: f64,
        /// Simulated events per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Mean minutes from the end of one incident to the next (at least 20 pass).
        #[arg(long, default_value_t = 10)]
        incident_every: u64,
        #[arg(long, default_value_t = 21)]
        seed: u64,
    },
    /// Log records per second through each shipper's door (OTLP protobuf and
    /// JSON, `_bulk`, syslog over TCP) in 1,000-record requests, beside the
    /// Publisher's rate in the same run.
    Ingest {
        /// Records through the Publisher, then as many through each door.
        #[arg(long, default_value_t = 200_000)]
        records: usize,
    },
    /// The API on a loaded stack: cached overview rate, search latency over HTTP,
    /// and HTTP ingest against the Publisher.
    Api {
        /// Events in LOGS, indexed and counted before the API is measured.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events published directly, then as many through POST /api/logs/ingest.
        #[arg(long, default_value_t = 200_000)]
        ingest: usize,
        /// Seconds of overview load.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Emit this many events per second in real time, stamped now (default: as fast as possible, simulated clock).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Start of the simulated clock (RFC 3339). The same seed and start give the same
    /// events. Default: early enough that the last event is stamped about now.
    #[arg(long)]
    pub start: Option<String>,
    /// Share of events that start a labeled fraud episode.
    #[arg(long, default_value_t = 0.004)]
    pub fraud_rate: f64,
    /// Share of events that are application log records (0-0.95): the services'
    /// request lines, errors and housekeeping, between the same commerce events.
    #[arg(long, default_value_t = 0.0)]
    pub log_share: f64,
    /// Publish to LOGS instead of printing.
    #[arg(long)]
    pub publish: bool,
}

#[derive(Subcommand)]
pub enum AlertsAction {
    /// Pending and firing alerts, and the silences.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Silence the alerts whose labels match every `label=value` given.
    Silence {
        /// `alertname=HighErrorRate`, `service=checkout`, ...
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long (`30m`, `2h`).
        #[arg(long = "for", default_value = "1h")]
        duration: humantime::Duration,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who silenced it (default: $USER).
        #[arg(long, env = "USER", default_value = "unknown")]
        by: String,
    },
    /// End a silence now.
    Unsilence { id: uuid::Uuid },
    /// Acknowledge an active alert (its fingerprint, from `alerts list`): someone
    /// has it in hand, so it is not escalated further until it resolves.
    Ack {
        fingerprint: String,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who acknowledges (default: $USER).
        #[arg(long, env = "USER", default_value = "unknown")]
        by: String,
    },
    /// Which routes and receivers an alert of these labels would reach (the
    /// configured `alerts.route`, the rules file's timers), and whether each route
    /// is muted now.
    TestRoute {
        /// `alertname=HighErrorRate`, `severity=P1`, `service=checkout`, ...
        #[arg(required = true)]
        labels: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct CountersArgs {
    /// `total`, a selector (`kind=error`, `service=api,status_class=5xx`), `by:<dimension>`
    /// (counts per value), `revenue`, `users`, or `latency[:<endpoint>|db]`.
    pub metric: String,
    /// The window ending now (`30s`, `5m`, `24h`).
    #[arg(long, default_value = "5m")]
    pub window: humantime::Duration,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum FraudAction {
    /// Detections, newest first.
    List {
        #[arg(long)]
        min_score: Option<u8>,
        #[arg(long)]
        user: Option<String>,
        /// Only detections where this indicator fired (velocity, bot, ...).
        #[arg(long)]
        indicator: Option<String>,
        /// RFC 3339, inclusive.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339, exclusive.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Counts by indicator, the score histogram, the amount at risk, and the
    /// precision analysts' verdicts give each typology and indicator.
    Stats {
        /// RFC 3339, inclusive.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Records an analyst's verdict on a detection: published to FRAUD, kept with
    /// the transaction across revisions, rules versions and rebuilds.
    Verdict {
        /// The detection's id (as `fraud list` shows it).
        id: sightline_schemas::Uuid,
        /// `confirmed` (it was fraud) or `false-positive` (it was the customer).
        verdict: String,
        /// Who decides.
        #[arg(long)]
        analyst: String,
        #[arg(long)]
        note: Option<String>,
    },
}

/// What to look for, the same in `search` and `tail`.
#[derive(Args)]
pub struct QueryArgs {
    /// The query (docs/search.md): words to find, all of them, or the query
    /// language (`kind:error AND service:checkout`, `"timed out"`,
    /// `response_time_ms:>500`, `attributes.http.status:500`). Empty matches
    /// everything.
    pub words: Vec<String>,
    /// Only these kinds (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<sightline_search::query::DocKind>,
    /// Only these services (repeatable).
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// Log records of this severity.
    #[arg(long)]
    pub severity: Option<sightline_schemas::Severity>,
}

impl QueryArgs {
    /// The query text, `None` when empty.
    pub fn text(&self) -> Option<String> {
        let text = self.words.join(" ");
        (!text.trim().is_empty()).then_some(text)
    }
}

#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Transaction status.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub endpoint: Option<String>,
    #[arg(long)]
    pub session: Option<String>,
    #[arg(long)]
    pub host: Option<String>,
    /// A card fingerprint: every event of that card (matched through its keyed hash).
    #[arg(long)]
    pub card: Option<String>,
    /// An IP address: every event from it (matched through its keyed hash).
    #[arg(long)]
    pub ip: Option<std::net::IpAddr>,
    #[arg(long)]
    pub error_code: Option<u16>,
    /// Requests that took at least this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub slower_than: Option<f64>,
    /// RFC 3339, inclusive.
    #[arg(long)]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value = "newest")]
    pub sort: SortArg,
    #[arg(long, default_value_t = 20)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// Tolerate typos.
    #[arg(long)]
    pub fuzzy: bool,
    /// Print the whole response as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print only the number of matching documents.
    #[arg(long)]
    pub count: bool,
}

#[derive(Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Events shown per second at most (1-1000); the rest are counted.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// One JSON hit per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum IssuesAction {
    /// Issues with events in the window, most recently seen first.
    List {
        /// unresolved (default), resolved, ignored or all.
        #[arg(long, default_value = "unresolved")]
        status: String,
        #[arg(long)]
        service: Vec<String>,
        /// How far back: `15m`, `24h`, `7d`.
        #[arg(long, default_value = "24h")]
        window: humantime::Duration,
        /// last_seen, first_seen, count or users.
        #[arg(long, default_value = "last_seen")]
        sort: String,
        #[arg(long, default_value_t = 25)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One issue, with its latest events and the decisions on it.
    Show {
        id: String,
        #[arg(long, default_value = "24h")]
        window: humantime::Duration,
        #[arg(long)]
        json: bool,
    },
    /// Marks an issue resolved: an event after now reopens it as a regression.
    Resolve {
        id: String,
        /// Who decides (default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Marks an issue ignored.
    Ignore {
        id: String,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Marks an issue unresolved again.
    Reopen {
        id: String,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum PatternsAction {
    /// One message per line (stdin without FILE) in; one JSON object per line out,
    /// in order: `{"line": n, "pattern": "<id>", "template": "..."}`, from an empty
    /// miner with the live configuration.
    Group { file: Option<std::path::PathBuf> },
}

#[derive(Subcommand)]
pub enum AnomalyAction {
    /// A series as NAB writes it (`timestamp,value`, a header first) in; the same
    /// rows with `anomaly_score` out, from one fresh detector with the live
    /// configuration reading it in order.
    Score { file: std::path::PathBuf },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SubsetArg {
    All,
    Tune,
    Report,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SortArg {
    Newest,
    Oldest,
    Relevance,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BackendArg {
    Tantivy,
    Elasticsearch,
}

impl From<BackendArg> for sightline_runtime::config::SearchBackend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Tantivy => Self::Tantivy,
            BackendArg::Elasticsearch => Self::Elasticsearch,
        }
    }
}
