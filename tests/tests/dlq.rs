//! `sightline dlq list|show|purge` against the dead letters a real worker leaves.

use std::time::Duration;

use serde_json::Value;
use sightline_tests::{eventually, Stack};

fn json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn dead_letters_are_listed_shown_and_purged() {
    let stack = Stack::start().await;
    stack.publish_generated(1, 20).await;
    let ack = stack
        .bus
        .js
        .publish("logs.transaction.checkout", "\u{c1}not msgpack".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let poison_seq = ack.sequence;
    let indexer = stack.worker("indexer", &[]);
    assert!(
        eventually(Duration::from_secs(30), || async {
            stack.stream_messages("DLQ").await == 1
        })
        .await,
        "the indexer dead-letters the undecodable message"
    );
    indexer.stop();

    let listed = json(&stack.sightline(&["dlq", "list", "--json"], None));
    let letters = listed.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{listed}");
    let letter = &letters[0];
    assert_eq!(letter["consumer"], "indexer");
    assert_eq!(letter["original_stream"], "LOGS");
    assert_eq!(letter["original_subject"], "logs.transaction.checkout");
    assert_eq!(letter["original_seq"], poison_seq.to_string());
    assert!(!letter["error"].as_str().unwrap().is_empty());
    let seq = letter["seq"].as_u64().unwrap();

    let other = json(&stack.sightline(
        &["dlq", "list", "--consumer", "fraud-store", "--json"],
        None,
    ));
    assert_eq!(other.as_array().unwrap().len(), 0, "filtered by consumer");

    let shown = stack.sightline(&["dlq", "show", &seq.to_string()], None);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("\"consumer\": \"indexer\""), "{text}");
    assert!(text.contains("do not decode as an event"), "{text}");
    assert!(!stack
        .sightline(&["dlq", "show", "999"], None)
        .status
        .success());

    let ambiguous = stack.sightline(&["dlq", "purge"], None);
    assert!(!ambiguous.status.success(), "purge needs to be told what");
    assert!(String::from_utf8_lossy(&ambiguous.stderr).contains("--all"));
    let purged = stack.sightline(&["dlq", "purge", "--consumer", "indexer"], None);
    assert!(String::from_utf8_lossy(&purged.stdout).starts_with("1 dead letters purged"));
    assert_eq!(stack.stream_messages("DLQ").await, 0);
    let empty = stack.sightline(&["dlq", "list"], None);
    assert!(String::from_utf8_lossy(&empty.stdout).contains("no dead letters"));
}
