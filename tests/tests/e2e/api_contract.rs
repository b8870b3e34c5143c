//! The API contract, checked by a client nobody on the project wrote: schemathesis
//! (pinned by ops/install.sh) reads /api/openapi.json from a live `sightline api`
//! and sends generated requests, valid and not, to every route with every check
//! on: each answer's status, content type, headers and body must be what the
//! document says. Once with API keys configured, once without.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sightline_tests::api::{ApiStack, OPERATOR_KEY};

/// Runs schemathesis against `api`; panics with its report on any failure.
fn schemathesis(api: &ApiStack, key: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("../.tools/venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run ops/install.sh",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.arg("--config-file")
        .arg(root.join("schemathesis/schemathesis.toml"))
        .arg("--no-color")
        .args(["run", &api.url("/api/openapi.json")])
        .args(["--checks", "all", "--max-examples", "10", "--seed", "1"])
        // Bounded: the stateful phase would otherwise explore until it is done.
        .args(["--max-time", "240", "--request-timeout", "30"])
        .env("SCHEMATHESIS_HOOKS", root.join("schemathesis/hooks.py"));
    if let Some(key) = key {
        cmd.args(["--header", &format!("Authorization: Bearer {key}")]);
    }
    let out = cmd.output().expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    // A run that tested nothing would also succeed.
    assert!(
        report.contains("passed") && !report.contains("No operations"),
        "{report}"
    );
}

/// Some traffic first, so list routes answer with items and not only empty arrays.
async fn traffic(api: &ApiStack, key: Option<&str>) {
    let fed = api
        .stack
        .sightline(&["generate", "--count", "2000", "--publish"], None);
    assert!(
        fed.status.success(),
        "{}",
        String::from_utf8_lossy(&fed.stderr)
    );
    let ready = sightline_tests::eventually(Duration::from_secs(60), || async {
        api.get_as("/api/search?size=1", key).await.json["total"].as_u64() >= Some(2000)
    })
    .await;
    assert!(ready, "the projections hold the traffic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_document_says_with_keys() {
    let api = ApiStack::start("").await;
    traffic(&api, Some(OPERATOR_KEY)).await;
    let doc = api.get_as("/api/openapi.json", None).await.json;
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    schemathesis(&api, Some(OPERATOR_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_document_says_without_keys() {
    let api = ApiStack::start_with_config("").await;
    traffic(&api, None).await;
    let doc = api.get_as("/api/openapi.json", None).await.json;
    assert!(doc.get("security").is_none(), "an open API asks for no key");
    schemathesis(&api, None);
}
