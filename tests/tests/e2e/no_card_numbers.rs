//! Card numbers in the input, through `sightline publish` and straight onto the bus
//! (a producer Sightline does not control): after a run of every worker, no stream
//! Sightline wrote, no store, no index and no log file holds one.

use std::path::Path;
use std::time::Duration;

use sightline_schemas::{Body, ErrorEvent, Event, OffsetDateTime, UserBehavior};
use sightline_search::query::SearchRequest;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use sightline_tests::{eventually, fraud_traffic, Redis, Stack};

/// Test card numbers (each passes the Luhn check), as they appear in the input.
const CARDS: [&str; 3] = [
    "4111111111111111",
    "5500 0000 0000 0004",
    "4012-8888-8888-1881",
];

/// Each card as contiguous digits, and as written in the input.
fn needles() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for card in CARDS {
        out.push(card.as_bytes().to_vec());
        out.push(card.bytes().filter(u8::is_ascii_digit).collect());
    }
    out
}

fn find_card(haystack: &[u8]) -> Option<String> {
    needles()
        .into_iter()
        .find(|n| haystack.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|n| String::from_utf8_lossy(&n).into_owned())
}

fn error_with(card: &str) -> Event {
    Event::at(
        OffsetDateTime::now_utc() - Duration::from_secs(60),
        "checkout",
        Body::Error(ErrorEvent {
            error_code: 402,
            error_type: "CardDeclined".into(),
            error_message: format!("charge failed for card {card}"),
            endpoint: "/api/pay".into(),
            stack: Some(format!("at charge({card})\nat handler")),
            user_id: Some("u1".into()),
        }),
    )
}

fn page_with(card: &str) -> Event {
    Event::at(
        OffsetDateTime::now_utc() - Duration::from_secs(60),
        "web",
        Body::UserBehavior(UserBehavior {
            user_id: "u2".into(),
            session_id: "s2".into(),
            action: "checkout".into(),
            page: format!("/pay?pan={card}"),
            ip: None,
            user_agent: None,
            product_id: None,
        }),
    )
}

/// A payment whose fingerprint is a card number: refused by validation.
fn payment_with(card: &str, events: &[Event]) -> Event {
    let mut tx = events
        .iter()
        .find(|e| matches!(e.payload, Body::Transaction(_)))
        .cloned()
        .expect("a payment in the traffic");
    tx.id = sightline_schemas::Uuid::now_v7();
    if let Body::Transaction(t) = &mut tx.payload {
        t.card_fingerprint = Some(card.into());
    }
    tx
}

fn scan_files(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan_files(&path, found);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if let Some(card) = find_card(&bytes) {
                found.push(format!("{} holds {card}", path.display()));
            }
        }
    }
}

async fn scan_stream(stack: &Stack, name: &str, skip: &[u64], found: &mut Vec<String>) {
    let stream = stack.bus.js.get_stream(name).await.unwrap();
    let head = stack.stream_head(name).await;
    for seq in 1..=head {
        if skip.contains(&seq) {
            continue;
        }
        let Ok(m) = stream.get_raw_message(seq).await else {
            continue;
        };
        let headers: Vec<u8> = m
            .headers
            .iter()
            .flat_map(|(k, vs)| {
                let mut line = k.to_string().into_bytes();
                vs.iter().for_each(|v| line.extend(v.as_str().bytes()));
                line
            })
            .collect();
        if let Some(card) = find_card(&m.payload).or_else(|| find_card(&headers)) {
            found.push(format!("{name} #{seq} ({}) holds {card}", m.subject));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_is_written_anywhere() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (mut events, _) = fraud_traffic(47, 3_000);
    events.push(error_with(CARDS[0]));
    events.push(page_with(CARDS[1]));
    let refused = payment_with(CARDS[2], &events);
    let input = stack.path("events.ndjson");
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    lines.push(serde_json::to_string(&refused).unwrap());
    std::fs::write(&input, lines.join("\n")).unwrap();
    let published = stack.sightline(&["publish", "events.ndjson"], None);
    let publish_output = [published.stdout.clone(), published.stderr.clone()].concat();
    assert!(
        String::from_utf8_lossy(&published.stderr).contains("card_fingerprint"),
        "the refused line is named: {}",
        String::from_utf8_lossy(&published.stderr)
    );
    // A producer that publishes to the bus itself: its own writes to LOGS are its
    // business, what Sightline makes of them is not.
    let foreign = [
        stack
            .publish_unchecked("logs.error.checkout", &error_with(CARDS[2]))
            .await,
        stack
            .publish_unchecked("logs.transaction.payments", &refused)
            .await,
    ];

    let log_path = stack.path("workers.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let url = redis.url();
    let mut workers = Vec::new();
    for kinds in [
        vec!["worker", "indexer", "counters", "fraud"],
        vec!["worker", "fraud-store"],
    ] {
        let child = stack
            .command(&kinds)
            .env("RUST_LOG", "info")
            .env("SIGHTLINE_REDIS__URL", &url)
            .stdout(std::process::Stdio::null())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        workers.push(sightline_tests::WorkerProcess(child));
    }
    assert!(
        eventually(Duration::from_secs(90), || async {
            stack.consumer_caught_up("LOGS", "indexer").await
                && stack.consumer_caught_up("LOGS", "counters").await
                && stack.consumer_caught_up("LOGS", "fraud").await
                && stack.consumer_caught_up("FRAUD", "fraud-store").await
                && stack.stream_messages("DLQ").await >= 1
        })
        .await,
        "the workers catch up"
    );
    workers.into_iter().for_each(|w| w.stop());

    let mut found = Vec::new();
    if let Some(card) = find_card(&publish_output) {
        found.push(format!("sightline publish printed {card}"));
    }
    scan_stream(&stack, "LOGS", &foreign, &mut found).await;
    for stream in ["FRAUD", "DLQ", "ALERTS"] {
        scan_stream(&stack, stream, &[], &mut found).await;
    }
    scan_files(&stack.path("data"), &mut found);
    if let Some(card) = find_card(&std::fs::read(&log_path).unwrap()) {
        found.push(format!("the workers' log holds {card}"));
    }
    // Redis: every key and every value.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the counters wrote");
    for key in keys {
        let dumped: Option<Vec<u8>> = redis::cmd("DUMP")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if let Some(card) = find_card(key.as_bytes()).or_else(|| dumped.and_then(|d| find_card(&d)))
        {
            found.push(format!("redis key {key} holds {card}"));
        }
    }
    // The index, as a reader sees it: no hit for a card, and the masked message.
    let index = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    for card in CARDS {
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        let hits = index.search(&SearchRequest::text(&digits)).await.unwrap();
        if hits.total > 0 {
            found.push(format!("the index finds {card}"));
        }
    }
    let declined = index
        .search(&SearchRequest::text("charge failed for card"))
        .await
        .unwrap();
    assert_eq!(declined.total, 2, "both declined charges are indexed");
    for hit in declined.hits.iter().filter(|h| !h.message.contains("****")) {
        found.push(format!("the index holds {:?} unmasked", hit.message));
    }
    assert!(found.is_empty(), "card numbers written: {found:#?}");

    // Detections carry the payer's IP as the index's keyed reference, not in clear.
    let ips: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Body::Transaction(t) => t.ip.map(|ip| ip.to_string()),
            _ => None,
        })
        .collect();
    // The store's file and its write-ahead log, whichever holds the rows now.
    let store: Vec<u8> = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            std::fs::read(stack.path(&format!("data/fraud/detections.sqlite{suffix}"))).ok()
        })
        .flatten()
        .collect();
    let fraud = stack.bus.js.get_stream("FRAUD").await.unwrap();
    let detections = stack.stream_head("FRAUD").await;
    assert!(detections > 0, "the scorer published detections");
    let mut with_ref = 0;
    for seq in 1..=detections {
        let m = fraud.get_raw_message(seq).await.unwrap();
        let d =
            sightline_schemas::Detection::decode(&m.payload, sightline_schemas::Encoding::MsgPack)
                .unwrap();
        assert_eq!(d.ip, None, "no IP in clear on FRAUD");
        with_ref += usize::from(d.ip_ref.is_some());
    }
    assert!(with_ref > 0, "detections carry ip_ref");
    for ip in &ips {
        assert!(
            !store.windows(ip.len()).any(|w| w == ip.as_bytes()),
            "the detections store holds {ip}"
        );
    }
}
