//! Log files: `sightline publish --format` and `/api/logs/upload?format=` read
//! what services write (text with tracebacks, access logs, JSON and logfmt
//! lines), keep stack traces with their line, name what they cannot read, and
//! store nothing twice when the same file is sent again.

use sightline_tests::api::{ApiStack, OPERATOR_KEY};

fn logs(query: &str) -> String {
    format!("/api/search?kind=log&size=50&{query}")
}

const APP_LOG: &str = "2026-12-07 10:00:00,123 - app.ledger - INFO - invoice run started
2026-12-07 10:00:05,001 - app.ledger - ERROR - invoice 42 failed
Traceback (most recent call last):
  File \"/app/ledger.py\", line 88, in write
    raise Locked()
ledger.Locked: row 42
{\"ts\":\"2026-12-07T10:00:06Z\",\"level\":\"warn\",\"msg\":\"ledger slow\",\"took_ms\":812}
ts=2026-12-07T10:00:07Z level=info msg=\"invoice run done\" invoices=41
203.0.113.9 - - [07/Dec/2026:11:00:08 +0100] \"GET /invoices HTTP/1.1\" 503 120 \"-\" \"curl/8\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_files_become_log_events_once() {
    let api = ApiStack::start("").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("billing.log");
    std::fs::write(&file, APP_LOG).unwrap();
    let path = file.to_str().unwrap();

    // --- sightline publish --format auto: the service from the file's name -----
    let out = api.stack.sightline(
        &["publish", path, "--format", "auto", "--tz", "+01:00"],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        summary["published"], 5,
        "five records in nine lines: {summary}"
    );
    let all = api.search_until(&logs("service=billing"), 5).await;
    let failed = api
        .search_until(&logs("service=billing&severity=error&q=invoice"), 1)
        .await;
    let message = failed["hits"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("invoice 42 failed\nTraceback"),
        "{message}"
    );
    assert!(message.ends_with("ledger.Locked: row 42"), "{message}");
    assert_eq!(
        failed["hits"][0]["occurred_at"], "2026-12-07T09:00:05.001Z",
        "+01:00 applied"
    );
    api.search_until(&logs("service=billing&severity=warn&q=slow"), 1)
        .await;
    api.search_until(&logs("service=billing&severity=error&q=invoices"), 1)
        .await;
    assert!(all.to_string().contains("invoice run done"), "{all}");

    // --- the same file again: nothing new -----------------------------------
    let stored = api.logs_stored().await;
    let again = api.stack.sightline(
        &["publish", path, "--format", "auto", "--tz", "+01:00"],
        None,
    );
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&again.stdout).trim()).unwrap();
    assert_eq!(
        (
            summary["published"].as_u64(),
            summary["duplicates"].as_u64()
        ),
        (Some(0), Some(5))
    );
    assert_eq!(api.logs_stored().await, stored);

    // --- upload with a format: a bad JSON record named by its line ------------
    let upload = "2026-12-07T10:00:00Z ERROR cart - checkout failed\n{\"broken\": \n2026-12-07T10:00:01Z INFO cart - ok\n";
    let answer = api
        .http
        .post(api.url("/api/logs/upload?format=auto&service=cart"))
        .bearer_auth(OPERATOR_KEY)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(upload.as_bytes().to_vec()).file_name("x.log"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let report: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        (report["published"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["place"], "line 2");
    api.search_until(&logs("service=cart&severity=error"), 1)
        .await;

    let bad = api
        .http
        .post(api.url("/api/logs/upload?format=yaml"))
        .bearer_auth(OPERATOR_KEY)
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(b"x".to_vec())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // A part besides `file` is refused, not ignored.
    let extra = api
        .http
        .post(api.url("/api/logs/upload?format=auto"))
        .bearer_auth(OPERATOR_KEY)
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()))
                .text("colour", "red"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(extra.status(), 400);
    let why: serde_json::Value = extra.json().await.unwrap();
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`colour`"),
        "{why}"
    );
}
