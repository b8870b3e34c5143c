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

/// `sightline dlq replay <seq> --payload`, `event` being the fixed payload.
fn replay_fixed(stack: &Stack, seq: &str, event: &sightline_schemas::Event) -> Value {
    let path = stack.path("fixed.json");
    std::fs::write(&path, serde_json::to_vec(event).unwrap()).unwrap();
    json(&stack.sightline(
        &["dlq", "replay", seq, "--payload", path.to_str().unwrap()],
        None,
    ))
}

#[tokio::test]
async fn dead_letters_are_listed_shown_and_purged() {
    let stack = Stack::start().await;
    stack.publish_generated(1, 20).await;
    let poison_seq = stack.publish_undecodable("logs.transaction.checkout").await;
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

/// Events in the index and in the counters (no scorer runs, so no detections).
async fn counts(stack: &Stack, redis: &sightline_tests::Redis) -> (u64, u64) {
    let searched = stack.sightline(&["search", "--count"], None);
    let indexed = String::from_utf8_lossy(&searched.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let layout = sightline_counters::Layout::new(&Default::default()).unwrap();
    let store = sightline_counters::RedisStore::connect(&redis.url(), layout)
        .await
        .unwrap();
    let window = sightline_counters::Window::ending_now(Duration::from_secs(7200)).unwrap();
    let counted = sightline_counters::Reader::new(&store)
        .count("total", window)
        .await
        .unwrap()
        .value;
    (indexed, counted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_dead_letter_is_replayed_once_to_the_consumer_that_gave_up() {
    use sightline_schemas::{Body, Decimal, Kind};
    let stack = Stack::start().await;
    let redis = sightline_tests::Redis::start(false);
    let events = stack.publish_generated(1, 20).await;
    // A payment with a negative amount: every LOGS consumer refuses it.
    let mut bad = events
        .iter()
        .find(|e| e.kind() == Kind::Transaction)
        .unwrap()
        .clone();
    bad.id = sightline_schemas::Uuid::now_v7();
    let Body::Transaction(tx) = &mut bad.payload else {
        unreachable!()
    };
    let amount = tx.amount;
    tx.amount = -amount - Decimal::ONE;
    stack
        .publish_unchecked("logs.transaction.payments", &bad)
        .await;
    let url = redis.url();
    let env = [("SIGHTLINE_REDIS__URL", url.as_str())];
    let indexer = stack.worker("indexer", &env);
    let counters = stack.worker("counters", &env);
    assert!(
        eventually(Duration::from_secs(30), || async {
            stack.stream_messages("DLQ").await == 2
        })
        .await,
        "the indexer and the counters each dead-letter it"
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            counts(&stack, &redis).await == (20, 20)
        })
        .await,
        "the good events are applied"
    );
    let letters = json(&stack.sightline(&["dlq", "list", "--consumer", "indexer", "--json"], None));
    let seq = letters[0]["seq"].as_u64().unwrap().to_string();

    // As it is, it fails validation again: refused, and the dead letter stays.
    let refused = stack.sightline(&["dlq", "replay", &seq], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("amount"));
    assert_eq!(stack.stream_messages("DLQ").await, 2);

    // Fixed, it reaches the indexer once and the counters not at all.
    let Body::Transaction(tx) = &mut bad.payload else {
        unreachable!()
    };
    tx.amount = amount;
    let replayed = replay_fixed(&stack, &seq, &bad);
    assert_eq!(replayed["consumer"], "indexer");
    assert_eq!(replayed["duplicate"], false);
    assert!(
        eventually(Duration::from_secs(30), || async {
            counts(&stack, &redis).await.0 == 21
        })
        .await,
        "the indexer applies the fixed event"
    );
    assert!(
        !stack
            .sightline(&["dlq", "replay", &seq], None)
            .status
            .success(),
        "a replayed dead letter is gone"
    );
    assert!(
        stack.consumer_caught_up("LOGS", "counters").await
            || eventually(Duration::from_secs(10), || stack
                .consumer_caught_up("LOGS", "counters"))
            .await
    );
    assert_eq!(
        counts(&stack, &redis).await,
        (21, 20),
        "the counters skipped what was not theirs"
    );

    // The counters' own dead letter, replayed, is counted once.
    let letters =
        json(&stack.sightline(&["dlq", "list", "--consumer", "counters", "--json"], None));
    let seq = letters[0]["seq"].as_u64().unwrap().to_string();
    replay_fixed(&stack, &seq, &bad);
    assert!(
        eventually(Duration::from_secs(30), || async {
            counts(&stack, &redis).await == (21, 21)
        })
        .await,
        "each consumer applied the fixed event once"
    );
    assert_eq!(stack.stream_messages("DLQ").await, 0);
    indexer.stop();
    counters.stop();
}

/// A poison message last in LOGS: each cursor worker (the index, the counters, the
/// scorer) dead-letters it once and moves its watermark over it, so after a restart,
/// with the DLQ's duplicate window long past, none delivers it to itself again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_at_the_tail_is_not_written_again_after_a_restart() {
    use sightline_search::store::{tantivy::TantivyStore, SearchStore, Source};
    let stack = Stack::start().await;
    let redis = sightline_tests::Redis::start(false);
    // Only the window would otherwise hide a second letter: shorten it.
    let mut dlq = stack.bus.js.get_stream("DLQ").await.unwrap();
    let mut config = dlq.info().await.unwrap().config.clone();
    config.duplicate_window = Duration::from_secs(1);
    stack.bus.js.update_stream(config).await.unwrap();

    stack.publish_generated(1, 20).await;
    let poison = stack.publish_undecodable("logs.transaction.payments").await;
    let url = redis.url();
    let env = [
        ("SIGHTLINE_REDIS__URL", url.as_str()),
        ("SIGHTLINE_FRAUD__SNAPSHOT_EVERY", "100ms"),
    ];
    let workers = ["indexer", "counters", "fraud"];
    let all_caught_up = || async {
        for name in workers {
            if !stack.consumer_caught_up("LOGS", name).await {
                return false;
            }
        }
        true
    };
    let running: Vec<_> = workers.iter().map(|w| stack.worker(w, &env)).collect();
    assert!(
        eventually(Duration::from_secs(30), || async {
            stack.stream_messages("DLQ").await == 3 && all_caught_up().await
        })
        .await,
        "each worker dead-letters it: {} letters",
        stack.stream_messages("DLQ").await
    );
    running.into_iter().for_each(|w| w.stop());

    let index = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    assert_eq!(index.watermark(Source::Logs).await.unwrap(), Some(poison));
    let layout = sightline_counters::Layout::new(&Default::default()).unwrap();
    let counters = sightline_counters::RedisStore::connect(&url, layout)
        .await
        .unwrap();
    let shards = counters
        .watermarks(sightline_counters::layout::Source::Logs)
        .await
        .unwrap();
    assert!(shards.iter().all(|&w| w == poison), "{shards:?}");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let running: Vec<_> = workers.iter().map(|w| stack.worker(w, &env)).collect();
    stack.publish_generated(2, 5).await;
    assert!(
        eventually(Duration::from_secs(30), all_caught_up).await,
        "the restarted workers apply what follows"
    );
    assert_eq!(stack.stream_messages("DLQ").await, 3, "no second letters");
    running.into_iter().for_each(|w| w.stop());
}

/// The indexer and the counters in one process, on one consumer: a message neither
/// can take is dead-lettered once, under the shared consumer, and its fixed event,
/// replayed, is applied once by each; a replay addressed to one of them (a letter a
/// lone counters worker wrote) is applied by that one alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_consumer_files_one_letter_and_its_replay_reaches_each_role_once() {
    let stack = Stack::start().await;
    let redis = sightline_tests::Redis::start(false);
    let events = stack.publish_generated(1, 20).await;
    stack.publish_undecodable("logs.transaction.payments").await;
    let url = redis.url();
    let shared = stack.worker("indexer counters", &[("SIGHTLINE_REDIS__URL", &url)]);
    assert!(
        eventually(Duration::from_secs(30), || async {
            stack.stream_messages("DLQ").await == 1 && counts(&stack, &redis).await == (20, 20)
        })
        .await,
        "one letter, the good events applied"
    );
    let letters = json(&stack.sightline(&["dlq", "list", "--json"], None));
    assert_eq!(letters[0]["consumer"], "indexer+counters", "{letters}");
    // Each role owns it: asked for by either, it is listed; by another, not.
    for (role, listed) in [("counters", 1), ("indexer", 1), ("fraud", 0)] {
        let of_role = json(&stack.sightline(&["dlq", "list", "--consumer", role, "--json"], None));
        assert_eq!(
            of_role.as_array().unwrap().len(),
            listed,
            "{role}: {of_role}"
        );
    }
    let seq = letters[0]["seq"].as_u64().unwrap().to_string();

    let mut fixed = events[0].clone();
    fixed.id = sightline_schemas::Uuid::now_v7();
    let replayed = replay_fixed(&stack, &seq, &fixed);
    assert_eq!(replayed["consumer"], "indexer+counters");
    assert!(
        eventually(Duration::from_secs(30), || async {
            counts(&stack, &redis).await == (21, 21)
        })
        .await,
        "both apply the fixed event: {:?}",
        counts(&stack, &redis).await
    );
    assert_eq!(stack.stream_messages("DLQ").await, 0);

    let mut for_counters = events[1].clone();
    for_counters.id = sightline_schemas::Uuid::now_v7();
    sightline_runtime::consumer::replay(&stack.bus, &for_counters, "counters", 9_999)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            counts(&stack, &redis).await.1 == 22
                && stack.consumer_caught_up("LOGS", "indexer").await
        })
        .await,
        "the counters apply it"
    );
    assert_eq!(counts(&stack, &redis).await, (21, 22), "the index does not");
    shared.stop();
}

/// A message dead-lettered again after its first letter left the DLQ's duplicate
/// window (a restart that delivers it again, much later) is not filed twice: each
/// letter has a subject of its own that the DLQ accepts once.
#[tokio::test]
async fn a_message_is_dead_lettered_once_per_consumer_past_the_duplicate_window() {
    use sightline_runtime::consumer::dlq::{publish, DeadLetter, Filed};
    let stack = Stack::start().await;
    let mut dlq = stack.bus.js.get_stream("DLQ").await.unwrap();
    let mut config = dlq.info().await.unwrap().config.clone();
    config.duplicate_window = Duration::from_millis(200);
    stack.bus.js.update_stream(config).await.unwrap();
    let letter = |consumer: &'static str, seq: u64| DeadLetter {
        stream: "LOGS",
        consumer,
        subject: "logs.transaction.payments",
        stream_seq: seq,
        delivered: 1,
        reason: "refused",
        headers: None,
        payload: bytes::Bytes::from_static(b"{}"),
    };
    assert_eq!(
        publish(&stack.bus, letter("indexer", 7)).await.unwrap(),
        Filed::Now
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        publish(&stack.bus, letter("indexer", 7)).await.unwrap(),
        Filed::Before
    );
    // Another consumer's letter for the same message, and another message.
    assert_eq!(
        publish(&stack.bus, letter("counters", 7)).await.unwrap(),
        Filed::Now
    );
    assert_eq!(
        publish(&stack.bus, letter("indexer", 8)).await.unwrap(),
        Filed::Now
    );
    assert_eq!(stack.stream_messages("DLQ").await, 3);
}
