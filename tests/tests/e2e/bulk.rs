//! The Elasticsearch-compatible door, driven by the official Elasticsearch Python
//! client (`helpers.bulk`, pinned by ops/install.sh) as Logstash and Beats speak
//! it, then by hand with the lines shippers get wrong and the handshake they make.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};

fn client_sends(api: &ApiStack, index: &str) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("../.tools/venv/bin/python"))
        .arg(root.join("clients/es_bulk.py"))
        .args([&api.url(""), OPERATOR_KEY, index])
        .output()
        .expect("the Elasticsearch client runs (ops/install.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

/// A search for log events (`query` as in `/api/search`).
fn logs(query: &str) -> String {
    format!("/api/search?kind=log&size=50&{query}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_shippers_bulk_logs_in_item_by_item() {
    let api = ApiStack::start("").await;

    // --- the official client: two documents taken, one refused and named ----
    let sent = client_sends(&api, "storefront-logs");
    assert_eq!(sent["version"], "8.17.0");
    assert_eq!(sent["ok"], 2, "{sent}");
    let errors = sent["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{sent}");
    assert_eq!(errors[0][0], 400);
    let reason = errors[0][1].as_str().unwrap();
    assert!(reason.contains("occurred_at"), "{reason}");
    let all = api.search_until(&logs("service=storefront"), 2).await;
    let failed = api
        .search_until(&logs("service=storefront&severity=error"), 1)
        .await;
    let message = failed["hits"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "upstream timed out after 3000 ms\nat proxy_pass()\nat handler()"
    );
    assert!(all.to_string().contains("GET /cart 200 12ms"), "{all}");

    // --- the same bulk again (a shipper that did not hear back): stored once --
    let before = api.logs_stored().await;
    let again = client_sends(&api, "storefront-logs");
    assert_eq!(again["ok"], 2);
    assert_eq!(
        api.logs_stored().await,
        before,
        "a retried bulk is stored once"
    );

    // --- by hand: an index in the path, gzip, items that cannot be taken ----
    let body = b"{\"index\":{}}\n{\"message\":\"disk 91% full\",\"log.level\":\"warn\"}\n{\"index\":{}}\n[1]\n{\"delete\":{\"_id\":\"1\"}}\n{\"create\":{}}\n{\"message\":\"card 4111 1111 1111 1111 declined\"}\n";
    let mut zip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    zip.write_all(body).unwrap();
    let answer = api
        .http
        .post(api.url("/billing-2026.12.07/_bulk"))
        .bearer_auth(OPERATOR_KEY)
        .header("Content-Type", "application/x-ndjson")
        .header("Content-Encoding", "gzip")
        .body(zip.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-elastic-product"], "Elasticsearch");
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer["errors"], true);
    let statuses: Vec<(String, u64)> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let (action, detail) = item.as_object().unwrap().iter().next().unwrap();
            (action.clone(), detail["status"].as_u64().unwrap())
        })
        .collect();
    let expected = [
        ("index", 201),
        ("index", 400),
        ("delete", 400),
        ("create", 201),
    ];
    let expected: Vec<(String, u64)> = expected.iter().map(|(a, s)| (a.to_string(), *s)).collect();
    assert_eq!(statuses, expected, "{answer}");
    let billing = api.search_until(&logs("service=billing"), 2).await;
    assert!(
        billing
            .to_string()
            .contains("card **** **** **** **** declined"),
        "{billing}"
    );
    assert!(
        !billing.to_string().contains("4111"),
        "no card number is stored"
    );

    // A line that is not an action refuses the whole body, as Elasticsearch does.
    let stored = api.logs_stored().await;
    let mut broken = body.to_vec();
    broken.extend_from_slice(b"not json\n");
    let refused = api
        .post("/_bulk", "application/x-ndjson", broken, Some(OPERATOR_KEY))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.error_message().starts_with("line 8: "),
        "{}",
        refused.text
    );
    assert_eq!(
        api.logs_stored().await,
        stored,
        "nothing of a refused body is stored"
    );

    let reader = api
        .post(
            "/_bulk",
            "application/x-ndjson",
            body.to_vec(),
            Some(READER_KEY),
        )
        .await;
    assert_eq!(reader.status, 403, "shipping logs is an operator's right");

    // --- the handshake: a client gets the version, a browser the page -------
    let info = api
        .http
        .get(api.url("/"))
        .header(
            "Accept",
            "application/vnd.elasticsearch+json; compatible-with=8",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(info.headers()["x-elastic-product"], "Elasticsearch");
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["version"]["number"], "8.17.0");
    let page = api
        .http
        .get(api.url("/"))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert!(
        page.text().await.unwrap().contains("<html"),
        "browsers get the page"
    );
    for (method, path) in [
        ("GET", "/_license"),
        ("GET", "/_xpack"),
        ("HEAD", "/_index_template/filebeat-8.17.0"),
        ("PUT", "/_index_template/filebeat-8.17.0"),
        ("PUT", "/_ilm/policy/filebeat"),
    ] {
        let answer = api
            .http
            .request(method.parse().unwrap(), api.url(path))
            .bearer_auth(OPERATOR_KEY)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{method} {path}");
        assert_eq!(answer.headers()["x-elastic-product"], "Elasticsearch");
    }
}
