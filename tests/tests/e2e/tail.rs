//! Live tail: `GET /api/logs/tail` streams the matching events as they are
//! published, at most `rate` a second with the rest counted, and `sightline tail`
//! prints them; both read the bus, not an index.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sightline_schemas::{Body, Event, LogRecord, Severity};
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};

fn record(service: &str, severity: Severity, message: &str) -> String {
    let event = Event::new(service, Body::Log(LogRecord::new(severity, message)));
    serde_json::to_string(&event).unwrap()
}

async fn ingest(api: &ApiStack, lines: &[String]) {
    let body = lines.join("\n").into_bytes();
    let reply = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            body,
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["published"], lines.len(), "{}", reply.text);
}

/// Reads server-sent events into (name, data) pairs until `until` holds or time runs out.
async fn read_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    until: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !until(&events) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no more events; so far {events:?}"))
            .expect("the stream stays open")
            .expect("a chunk");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_shows_matching_events_as_they_arrive_and_counts_what_it_skips() {
    let api = ApiStack::start("").await;
    let q = "severity:error AND (payment OR attributes.none:x)";
    let url = format!(
        "/api/logs/tail?q={}&service=shop&rate=3",
        q.replace(' ', "%20").replace(':', "%3A")
    );
    let bad = api.get("/api/logs/tail?q=kind:(log").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.error_message().contains("at 5"), "{}", bad.text);

    let mut response = api
        .http
        .get(api.url(&url))
        .bearer_auth(READER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "server-sent events"
    );
    let mut buffer = String::new();

    // Two that match, three that do not (severity, service, words).
    ingest(
        &api,
        &[
            record("shop", Severity::Error, "payment 1 declined"),
            record("shop", Severity::Info, "payment 2 accepted"),
            record("web", Severity::Error, "payment 3 declined"),
            record("shop", Severity::Error, "cart emptied"),
            record("shop", Severity::Error, "payment 4 declined"),
        ],
    )
    .await;
    let first = read_events(&mut response, &mut buffer, |e| e.len() >= 2).await;
    let messages: Vec<&str> = first
        .iter()
        .map(|(_, hit)| hit["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(messages, ["payment 1 declined", "payment 4 declined"]);
    assert!(first.iter().all(|(name, _)| name == "log"));
    assert_eq!(first[0].1["event"]["payload"]["severity"], "error");

    // Ten more at once: three a second are shown, the rest counted.
    let burst: Vec<String> = (0..10)
        .map(|n| {
            record(
                "shop",
                Severity::Error,
                &format!("payment burst {n} failed"),
            )
        })
        .collect();
    ingest(&api, &burst).await;
    let shown_and_skipped = |events: &[(String, Value)]| {
        let shown = events.iter().filter(|(n, _)| n == "log").count() as u64;
        let skipped: u64 = events
            .iter()
            .filter(|(n, _)| n == "skipped")
            .map(|(_, d)| d["skipped"].as_u64().unwrap())
            .sum();
        (shown, skipped)
    };
    let rest = read_events(&mut response, &mut buffer, |e| {
        let (shown, skipped) = shown_and_skipped(e);
        shown + skipped >= 10
    })
    .await;
    let (shown, skipped) = shown_and_skipped(&rest);
    assert_eq!(
        shown + skipped,
        10,
        "every event shown or counted: {rest:?}"
    );
    assert!(shown <= 3 && skipped >= 7, "{rest:?}");
    drop(response);

    // The CLI prints the same, one line each.
    let mut cli = api
        .stack
        .command(&["tail", "severity:fatal", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sightline tail runs");
    let mut lines = BufReader::new(cli.stdout.take().unwrap()).lines();
    // It is following once it has subscribed; until then, keep sending.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(lines.next());
    });
    let mut printed = None;
    for n in 0..40 {
        ingest(
            &api,
            &[
                record("shop", Severity::Info, "all good"),
                record("shop", Severity::Fatal, &format!("disk full {n}")),
            ],
        )
        .await;
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            printed = line.map(|l| l.unwrap());
            break;
        }
    }
    let _ = cli.kill();
    let _ = cli.wait();
    let line = printed.expect("sightline tail printed a line");
    let hit: Value = serde_json::from_str(&line).unwrap();
    assert!(
        hit["message"].as_str().unwrap().starts_with("disk full"),
        "{line}"
    );
}
