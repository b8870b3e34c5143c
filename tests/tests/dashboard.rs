//! The dashboard page in real headless Chromium, against a live stack fed by
//! `sightline generate --publish`: a user gives the API key, sees figures and
//! charts with the real numbers, searches and gets highlighted hits.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use sightline_tests::api::{ApiStack, READER_KEY};
use sightline_tests::browser::Browser;
use sightline_tests::eventually;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const EVENTS: u64 = 3000;

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// Polls a script in the page until it returns `want` (or 20 s pass).
async fn page_shows(c: &Client, script: &str, want: &Value) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = js(c, script).await;
        if &last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_shows_live_figures_charts_and_highlighted_search_hits() {
    let api = ApiStack::start("").await;
    let start = (OffsetDateTime::now_utc() - Duration::from_secs(120))
        .format(&Rfc3339)
        .unwrap();
    let count = EVENTS.to_string();
    let fed = api.stack.sightline(
        &[
            "generate",
            "--count",
            &count,
            "--start",
            &start,
            "--publish",
        ],
        None,
    );
    assert!(
        fed.status.success(),
        "{}",
        String::from_utf8_lossy(&fed.stderr)
    );
    assert!(
        eventually(Duration::from_secs(60), || async {
            let o = api.get("/api/dashboard/overview?window=1h").await;
            o.json["events"].as_u64() == Some(EVENTS)
                && api.get("/api/search?size=1").await.json["total"].as_u64() >= Some(EVENTS)
        })
        .await,
        "the projections hold the generated events"
    );
    let overview = api.get("/api/dashboard/overview?window=1h").await.json;

    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&api.base).await.expect("the page loads");

    // Keys are configured, so the page asks for one first.
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#key-form[style*='flex']"))
        .await
        .expect("the page asks for an API key");
    c.find(Locator::Css("#key-input"))
        .await
        .unwrap()
        .send_keys(READER_KEY)
        .await
        .unwrap();
    c.find(Locator::Css("#key-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Figures with the real numbers, as the API computes them.
    let events = page_shows(
        c,
        "return document.getElementById('fig-events')?.textContent ?? null",
        &json!("3,000"),
    )
    .await;
    assert_eq!(events, json!("3,000"), "the events figure");
    let transactions = js(
        c,
        "return document.getElementById('fig-transactions').textContent",
    )
    .await;
    let want = overview["transactions"].as_u64().unwrap();
    assert_eq!(
        transactions
            .as_str()
            .unwrap()
            .replace(',', "")
            .parse::<u64>()
            .unwrap(),
        want
    );
    assert!(want > 0);
    let status = js(c, "return document.getElementById('status').className").await;
    assert_eq!(status, json!("live"));

    // The events chart: a line per kind whose points add up to every event.
    let charted = js(
        c,
        "return [...document.querySelectorAll('#chart-events polyline')]
            .map(l => [l.dataset.series, Number(l.dataset.total), l.getAttribute('points').split(' ').length])",
    )
    .await;
    let lines = charted.as_array().unwrap();
    assert_eq!(lines.len(), 5, "one line per kind: {charted}");
    let total: f64 = lines.iter().map(|l| l[1].as_f64().unwrap()).sum();
    assert_eq!(total as u64, EVENTS);
    assert!(
        lines.iter().all(|l| l[2].as_u64().unwrap() >= 2),
        "{charted}"
    );
    let latency_points = js(
        c,
        "return document.querySelector('#chart-latency polyline').getAttribute('points').split(' ').length",
    )
    .await;
    assert!(latency_points.as_u64().unwrap() >= 2);

    // A search shows hits with the matches highlighted.
    c.find(Locator::Css("#search-input"))
        .await
        .unwrap()
        .send_keys("payment")
        .await
        .unwrap();
    c.find(Locator::Css("#search-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#search-results em"))
        .await
        .expect("highlighted hits");
    let marked = js(
        c,
        "return [...document.querySelectorAll('#search-results em')].map(e => e.textContent.toLowerCase())",
    )
    .await;
    let marked = marked.as_array().unwrap();
    assert!(!marked.is_empty());
    assert!(
        marked
            .iter()
            .all(|m| m.as_str().unwrap().starts_with("payment")),
        "{marked:?}"
    );
    let said = js(
        c,
        "return document.getElementById('search-total').textContent",
    )
    .await;
    assert!(
        said.as_str().unwrap().ends_with("matching events"),
        "{said}"
    );

    let shot = c.screenshot().await.expect("a screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, shot).expect("screenshot saved");
    browser.close().await;
}
