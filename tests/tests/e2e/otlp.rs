//! OTLP/HTTP logs, driven by the OpenTelemetry Python SDK (pinned by
//! ops/install.sh) as an application sends them, then by hand in OTLP/JSON, and
//! with the bad bodies a receiver meets: each answered as the specification says.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use prost::Message;
use sightline_ingest::otlp::Status;
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};

/// Runs the SDK client; returns its `export ...` lines.
fn sdk_sends(api: &ApiStack, service: &str, gzip: bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("../.tools/venv/bin/python");
    let mut cmd = Command::new(&python);
    cmd.arg(root.join("clients/otel_logs.py"))
        .args([&api.url("/v1/logs"), OPERATOR_KEY, service]);
    if gzip {
        cmd.arg("gzip");
    }
    let out = cmd
        .output()
        .expect("the OpenTelemetry client runs (ops/install.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// `text` as a query string value.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A search for log events (`query` as in `/api/search`).
fn logs(query: &str) -> String {
    format!("/api/search?kind=log&size=50&{query}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opentelemetry_sdk_ships_logs_that_become_searchable_events() {
    let api = ApiStack::start("").await;

    // --- the SDK, protobuf, then protobuf with gzip -------------------------
    let exports = sdk_sends(&api, "Checkout Py", false);
    assert_eq!(exports, ["export SUCCESS"; 3], "one export per record");
    let all = api.search_until(&logs("service=checkout-py"), 3).await;
    let messages: Vec<&str> = all["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"order ord-1 placed"), "{messages:?}");
    let errors = api
        .search_until(&logs("service=checkout-py&severity=error"), 1)
        .await;
    let failed = errors["hits"][0]["message"].as_str().unwrap();
    assert!(
        failed.starts_with("payment capture failed for ord-1 with card **** **** **** ****"),
        "{failed}"
    );
    assert!(
        failed.contains("Traceback") && failed.contains("KeyError"),
        "the stack is kept: {failed}"
    );
    assert!(
        !all.to_string().contains("4111"),
        "no card number is stored"
    );
    api.search_until(&logs("service=checkout-py&severity=warn&q=inventory"), 1)
        .await;

    // --- the query language over what the SDK sent, and the whole event ---
    let q = |q: &str| logs(&format!("q={}", urlencoding(q)));
    let gold = api
        .search_until(
            &q("service:checkout-py AND attributes.customer.tier:gold"),
            1,
        )
        .await;
    assert_eq!(gold["hits"][0]["message"], "order ord-1 placed");
    let event = &gold["hits"][0]["event"];
    assert_eq!(event["payload"]["attributes"]["order.items"], 3, "{event}");
    assert_eq!(event["payload"]["logger"], "shop.checkout", "{event}");
    api.search_until(&q("attributes.stock:<5 AND severity:warn"), 1)
        .await;
    api.search_until(&q("\"capture failed\" AND NOT severity:info"), 1)
        .await;
    let bad = api.get(&q("service:(checkout")).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.error_message().contains("at 8"), "{}", bad.text);

    let id = gold["hits"][0]["id"].as_str().unwrap().to_owned();
    let one = api.get(&format!("/api/logs/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        one.json["event"]["payload"]["attributes"]["customer.tier"],
        "gold"
    );
    let around = api.get(&format!("/api/logs/{id}/context?size=5")).await;
    assert_eq!(around.status, 200, "{}", around.text);
    assert_eq!(
        around.json["by"], "service",
        "no trace: the service's events"
    );
    assert_eq!(around.json["event"]["id"], id.as_str());
    let after: Vec<&str> = around.json["after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert_eq!(after.len(), 2, "the two records logged after it: {after:?}");
    assert_eq!(after[0], "inventory low for sku-42");
    assert!(around.json["before"].as_array().unwrap().is_empty());
    let missing = api
        .get("/api/logs/01900000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(api.get("/api/logs/not-an-id").await.status, 400);

    let zipped = sdk_sends(&api, "checkout-gz", true);
    assert_eq!(zipped, ["export SUCCESS"; 3]);
    api.search_until(&logs("service=checkout-gz"), 3).await;

    // --- OTLP/JSON by hand: a partial success, and a retry stored once ------
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let record = |nanos: i128, body: &str| {
        serde_json::json!({"timeUnixNano": nanos.to_string(), "severityNumber": 17,
            "body": {"stringValue": body},
            "attributes": [{"key": "http.response.status_code", "value": {"intValue": "502"}}]})
    };
    let request = serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "edge"}}]},
    "scopeLogs": [{"scope": {"name": "nginx"}, "logRecords": [
        record(now, "upstream reset"),
        record(now, "upstream reset"),
        record(631_152_000_000_000_000, "from 1990"),
    ]}]}]});
    let before = api.logs_stored().await;
    let partial = api
        .post_json("/v1/logs", &request, Some(OPERATOR_KEY))
        .await;
    assert_eq!(partial.status, 200, "{}", partial.text);
    assert_eq!(
        partial.json["partialSuccess"]["rejectedLogRecords"], 1,
        "{}",
        partial.text
    );
    let why = partial.json["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("resourceLogs[0].scopeLogs[0].logRecords[2]") && why.contains("occurred_at"),
        "{why}"
    );
    assert_eq!(
        api.logs_stored().await,
        before + 2,
        "twin lines are two events"
    );
    let retry = api
        .post_json("/v1/logs", &request, Some(OPERATOR_KEY))
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(
        api.logs_stored().await,
        before + 2,
        "a retried request is stored once"
    );
    api.search_until(&logs("service=edge"), 2).await;

    // The overview counts the records by severity.
    let want = serde_json::json!({"error": 4, "info": 2, "warn": 2});
    let counted = sightline_tests::eventually(std::time::Duration::from_secs(30), || async {
        api.get("/api/dashboard/overview?window=1h").await.json["logs_by_severity"] == want
    })
    .await;
    assert!(
        counted,
        "{}",
        api.get("/api/dashboard/overview?window=1h").await.text
    );

    // --- bad requests -------------------------------------------------------
    let raw = |content_type: &'static str, body: Vec<u8>, gzip: bool| {
        let mut request = api
            .http
            .post(api.url("/v1/logs"))
            .bearer_auth(OPERATOR_KEY)
            .header("Content-Type", content_type)
            .body(body);
        if gzip {
            request = request.header("Content-Encoding", "gzip");
        }
        request.send()
    };
    let broken = raw(
        "application/x-protobuf",
        vec![0x0a, 0xff, 0xff, 0xff],
        false,
    )
    .await
    .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(broken.headers()["content-type"], "application/x-protobuf");
    let status = Status::decode(broken.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3, "invalid argument: not retryable");
    assert!(status.message.contains("protobuf"), "{}", status.message);

    let bad_json = api
        .post(
            "/v1/logs",
            "application/json",
            b"{\"resourceLogs\": 7}".to_vec(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(bad_json.status, 400);
    assert_eq!(bad_json.error_code(), "bad_request", "{}", bad_json.text);

    let text = api
        .post(
            "/v1/logs",
            "text/plain",
            b"hello".to_vec(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(text.status, 415);
    assert_eq!(text.error_code(), "unsupported_media_type");

    let mut zip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    zip.write_all(&vec![b' '; 17 * 1024 * 1024]).unwrap();
    let bomb = raw("application/json", zip.finish().unwrap(), true)
        .await
        .unwrap();
    assert_eq!(
        bomb.status(),
        413,
        "over the ingest limit once decompressed"
    );

    let reader = api.post_json("/v1/logs", &request, Some(READER_KEY)).await;
    assert_eq!(reader.status, 403, "shipping logs is an operator's right");
    assert_eq!(
        api.logs_stored().await,
        before + 2,
        "nothing bad was stored"
    );
}
