//! `sightline generate` and `sightline publish` against a real nats-server.

use sightline_tests::{last_json_line, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_are_stored_once_and_republishing_adds_nothing() {
    let stack = Stack::start().await;
    let file = stack.path("events.ndjson");
    let generated = stack.sightline(&["generate", "--count", "10000", "--seed", "11"], None);
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    std::fs::write(&file, &generated.stdout).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&generated.stdout).lines().count(),
        10_000
    );

    let first = stack.sightline(&["publish", file.to_str().unwrap()], None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        last_json_line(&first),
        serde_json::json!({"published": 10000, "duplicates": 0, "rejected": 0})
    );
    assert_eq!(stack.stream_messages("LOGS").await, 10_000);

    // Again, through stdin this time: every event is a duplicate by its id.
    let again = stack.sightline(&["publish", "-"], Some(&file));
    assert!(again.status.success());
    assert_eq!(
        last_json_line(&again),
        serde_json::json!({"published": 0, "duplicates": 10000, "rejected": 0})
    );
    assert_eq!(stack.stream_messages("LOGS").await, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_named_and_the_rest_is_published() {
    let stack = Stack::start().await;
    let generated = stack.sightline(&["generate", "--count", "20", "--seed", "3"], None);
    let mut lines: Vec<String> = String::from_utf8_lossy(&generated.stdout)
        .lines()
        .map(String::from)
        .collect();
    // Line 4: not JSON. Line 9: a negative amount on a transaction. Line 15: no service.
    lines[3] = "{not json".into();
    lines[8] = transaction_with_negative_amount();
    let mut v: serde_json::Value = serde_json::from_str(&lines[14]).unwrap();
    v.as_object_mut().unwrap().remove("service");
    lines[14] = v.to_string();
    let file = stack.path("mixed.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let out = stack.sightline(&["publish", file.to_str().unwrap()], None);
    assert!(!out.status.success(), "rejections must fail the command");
    assert_eq!(
        last_json_line(&out),
        serde_json::json!({"published": 17, "duplicates": 0, "rejected": 3})
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reported: Vec<&str> = stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(reported.len(), 3, "{stderr}");
    assert!(reported[0].starts_with("line 4: "), "{stderr}");
    assert!(
        reported[1].starts_with("line 9: ") && reported[1].contains("payload.amount"),
        "{stderr}"
    );
    assert!(
        reported[2].starts_with("line 15: ") && reported[2].contains("service"),
        "{stderr}"
    );
    assert_eq!(stack.stream_messages("LOGS").await, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_accepted_and_items_are_numbered() {
    let stack = Stack::start().await;
    let generated = stack.sightline(&["generate", "--count", "5", "--seed", "4"], None);
    let mut items: Vec<serde_json::Value> = String::from_utf8_lossy(&generated.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    items[1]["occurred_at"] = serde_json::json!("yesterday");
    let file = stack.path("array.json");
    std::fs::write(&file, serde_json::to_string_pretty(&items).unwrap()).unwrap();
    let out = stack.sightline(&["publish", file.to_str().unwrap()], None);
    assert_eq!(
        last_json_line(&out),
        serde_json::json!({"published": 4, "duplicates": 0, "rejected": 1})
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("item 2: undecodable event: occurred_at"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_apply_is_idempotent_and_refuses_destructive_changes() {
    let stack = Stack::start().await;
    let out = stack.sightline(&["streams", "apply"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .all(|l| l.contains("\"unchanged\"")));

    let mut cmd = std::process::Command::new(sightline_tests::sightline_bin());
    cmd.args(["streams", "apply"])
        .env(
            "SIGHTLINE_NATS__URL",
            stack.settings.nats.url.clone().unwrap(),
        )
        .env("SIGHTLINE_STREAMS__LOGS__MAX_AGE", "1h");
    let refused = cmd.output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let forced = cmd.arg("--force").output().unwrap();
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(String::from_utf8_lossy(&forced.stdout).contains("max_age"));

    let status = stack.sightline(&["streams", "status", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let names: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["LOGS", "FRAUD", "ALERTS", "DLQ"]);
}

fn transaction_with_negative_amount() -> String {
    let mut generator = sightline_generator::Generator::new(99, time_start(), 50);
    let event = generator
        .find(|e| e.kind() == sightline_schemas::Kind::Transaction)
        .unwrap();
    let mut v = serde_json::to_value(&event).unwrap();
    v["payload"]["amount"] = serde_json::json!("-12.50");
    v.to_string()
}

fn time_start() -> sightline_schemas::OffsetDateTime {
    sightline_schemas::OffsetDateTime::now_utc() - std::time::Duration::from_secs(3600)
}

/// Logs written to a pipe or a file carry no colour codes (they are for terminals).
#[tokio::test]
async fn logs_to_a_pipe_are_plain_text() {
    let stack = Stack::start().await;
    let output = stack
        .command(&["streams", "status"])
        .env("RUST_LOG", "info")
        .output()
        .expect("sightline runs");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("INFO"), "it logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escapes: {stderr:?}");
}
