//! `sightline bench ingest`: log records per second through each shipper's door
//! of `sightline api` (OTLP/HTTP protobuf and JSON, `_bulk`, syslog over TCP),
//! in requests of 1,000 records, beside the Publisher's rate in the same run.
//! Every door publishes records it has not seen (its own messages and times), so
//! LOGS' duplicate window hides no work; a door's time runs from its first byte
//! to LOGS holding its last record.

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use sightline_api::AppState;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::{topology, Bus, Settings};
use sightline_schemas::{AttrValue, Body, Event, LogRecord, OffsetDateTime, Severity};

use super::{bench_bus, bench_redis, Report};

/// Records per request, and requests in flight.
const BATCH: usize = 1000;
const IN_FLIGHT: usize = 4;

/// The `i`th record of a door: a line such as services write, with attributes.
struct Line {
    at: OffsetDateTime,
    severity: Severity,
    message: String,
    route: &'static str,
    status: i64,
}

fn lines(door: usize, count: usize, start: OffsetDateTime) -> Vec<Line> {
    const ROUTES: [&str; 4] = ["/api/cart", "/api/checkout", "/api/products", "/api/search"];
    (0..count)
        .map(|i| Line {
            at: start + Duration::from_micros((door * count + i) as u64),
            severity: if i % 20 == 0 {
                Severity::Error
            } else {
                Severity::Info
            },
            message: format!(
                "door {door} request {i} served in {} ms by worker {}",
                i % 300,
                i % 16
            ),
            route: ROUTES[i % ROUTES.len()],
            status: if i % 20 == 0 { 502 } else { 200 },
        })
        .collect()
}

pub async fn run(mut settings: Settings, records: usize) -> Report {
    anyhow::ensure!(records >= BATCH, "--records must be at least {BATCH}");
    let records = records / BATCH * BATCH;
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let data = tempfile::tempdir()?;
    settings.data_dir = data.path().to_owned();
    let _redis = bench_redis(&mut settings, data.path())?;
    settings.syslog.tcp = Some("127.0.0.1:0".parse()?);
    let start = OffsetDateTime::now_utc() - Duration::from_secs(3600);

    // The Publisher's rate: the ceiling every door is compared with.
    let direct: Vec<Event> = lines(0, records, start).iter().map(event).collect();
    let publisher = Publisher::new(bus, &settings.publisher);
    let publisher_per_s = super::publisher_rate(&publisher, &direct).await?;
    drop(direct);

    let state = AppState::connect(settings.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let bound = sightline_api::bind(&state, "127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", bound.local_addr()?);
    let syslog = bound.syslog_tcp().expect("asked for");
    let server = tokio::spawn(sightline_api::serve(state, bound, std::future::pending()));
    let http = reqwest::Client::new();
    let mut stored = records as u64;

    let protobuf: Vec<Bytes> = lines(1, records, start)
        .chunks(BATCH)
        .map(|c| Bytes::from(otlp(c).encode_to_vec()))
        .collect();
    let otlp_protobuf = post_all(
        &http,
        &format!("{base}/v1/logs"),
        "application/x-protobuf",
        protobuf,
    )
    .await?;
    stored += records as u64;
    let otlp_protobuf =
        records as f64 / (otlp_protobuf + until_stored(bus, stored).await?).as_secs_f64();

    let json: Vec<Bytes> = lines(2, records, start)
        .chunks(BATCH)
        .map(|c| serde_json::to_vec(&otlp(c)).map(Bytes::from))
        .collect::<Result<_, _>>()?;
    let otlp_json = post_all(&http, &format!("{base}/v1/logs"), "application/json", json).await?;
    stored += records as u64;
    let otlp_json = records as f64 / (otlp_json + until_stored(bus, stored).await?).as_secs_f64();

    let bulk: Vec<Bytes> = lines(3, records, start)
        .chunks(BATCH)
        .map(bulk_body)
        .collect();
    let bulk = post_all(
        &http,
        &format!("{base}/_bulk"),
        "application/x-ndjson",
        bulk,
    )
    .await?;
    stored += records as u64;
    let bulk = records as f64 / (bulk + until_stored(bus, stored).await?).as_secs_f64();

    let frames = syslog_frames(&lines(4, records, start));
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(syslog).await?;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &frames).await?;
    stored += records as u64;
    until_stored(bus, stored).await?;
    let syslog_tcp = records as f64 / started.elapsed().as_secs_f64();
    drop(stream);
    server.abort();

    let ratio = |x: f64| (x / publisher_per_s * 100.0).round() / 100.0;
    Ok(serde_json::json!({
        "records": records,
        "records_per_request": BATCH,
        "publisher_per_s": publisher_per_s.round(),
        "otlp_protobuf_per_s": otlp_protobuf.round(),
        "otlp_json_per_s": otlp_json.round(),
        "bulk_per_s": bulk.round(),
        "syslog_tcp_per_s": syslog_tcp.round(),
        "otlp_protobuf_ratio": ratio(otlp_protobuf),
        "otlp_json_ratio": ratio(otlp_json),
        "bulk_ratio": ratio(bulk),
        "syslog_tcp_ratio": ratio(syslog_tcp),
    }))
}

fn event(line: &Line) -> Event {
    let mut log = LogRecord::new(line.severity, &line.message);
    log.logger = Some("bench".into());
    log.add_attribute("http.route", AttrValue::Text(line.route.into()));
    log.add_attribute("http.response.status_code", AttrValue::Int(line.status));
    Event::at(line.at, "bench", Body::Log(log))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn otlp(lines: &[Line]) -> ExportLogsServiceRequest {
    let records = lines
        .iter()
        .map(|l| OtlpRecord {
            time_unix_nano: u64::try_from(l.at.unix_timestamp_nanos()).unwrap_or(0),
            severity_number: i32::from(l.severity.number()),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(l.message.clone())),
            }),
            attributes: vec![
                kv("http.route", any_value::Value::StringValue(l.route.into())),
                kv(
                    "http.response.status_code",
                    any_value::Value::IntValue(l.status),
                ),
            ],
            ..OtlpRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("bench".into()),
                )],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn bulk_body(lines: &[Line]) -> Bytes {
    use time::format_description::well_known::Rfc3339;
    let mut body = Vec::with_capacity(lines.len() * 220);
    for l in lines {
        body.extend_from_slice(b"{\"create\":{}}\n");
        let doc = serde_json::json!({
            "@timestamp": l.at.format(&Rfc3339).unwrap_or_default(),
            "message": l.message,
            "log": { "level": l.severity.as_str(), "logger": "bench" },
            "service": { "name": "bench" },
            "http": { "route": l.route, "response": { "status_code": l.status } },
        });
        serde_json::to_writer(&mut body, &doc).expect("a document encodes");
        body.push(b'\n');
    }
    Bytes::from(body)
}

fn syslog_frames(lines: &[Line]) -> Vec<u8> {
    use time::format_description::well_known::Rfc3339;
    let mut out = Vec::with_capacity(lines.len() * 160);
    for l in lines {
        let pri = if l.severity == Severity::Error {
            131
        } else {
            134
        };
        let msg = format!(
            "<{pri}>1 {} bench-host bench 42 - [http@32473 route=\"{}\" status=\"{}\"] {}",
            l.at.format(&Rfc3339).unwrap_or_default(),
            l.route,
            l.status,
            l.message
        );
        write!(out, "{} {msg}", msg.len()).expect("writing to memory");
    }
    out
}

/// Posts every body (`IN_FLIGHT` at a time); how long until every answer came.
pub(super) async fn post_all(
    http: &reqwest::Client,
    url: &str,
    content_type: &'static str,
    bodies: Vec<Bytes>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut answers = futures::stream::iter(bodies)
        .map(|body| {
            http.post(url)
                .header("Content-Type", content_type)
                .body(body)
                .send()
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some(answer) = answers.next().await {
        // A refused record would leave LOGS short: `until_stored` says so.
        let answer = answer?;
        anyhow::ensure!(
            answer.status().is_success(),
            "{url} answered {}",
            answer.status()
        );
    }
    Ok(started.elapsed())
}

/// Waits until LOGS holds `count` messages; how long that took.
async fn until_stored(bus: &Bus, count: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut logs = bus.js.get_stream(topology::LOGS).await?;
    while logs.info().await?.state.messages < count {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "LOGS holds {} of {count} messages",
            logs.cached_info().state.messages
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(started.elapsed())
}
