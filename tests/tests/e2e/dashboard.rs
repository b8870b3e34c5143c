//! The dashboard page in real headless Chromium, against a live stack fed by
//! `sightline generate --publish`: a user gives the API key, sees figures and
//! charts with the real numbers, searches and gets highlighted hits.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};
use sightline_tests::browser::Browser;
use sightline_tests::eventually;

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
    // Without --start the traffic ends about now.
    let count = EVENTS.to_string();
    let fed = api
        .stack
        .sightline(&["generate", "--count", &count, "--publish"], None);
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
    assert_eq!(
        lines.len(),
        sightline_schemas::Kind::ALL.len(),
        "one line per kind: {charted}"
    );
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

    // Revenue says which currency it is; the rate is the last minute's.
    let labels = js(
        c,
        "return [...document.querySelectorAll('#figures .figure')].map(f => f.querySelector('.label').textContent)",
    )
    .await;
    let labels: Vec<&str> = labels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let currencies = overview["revenue"].as_object().unwrap().len();
    assert!(
        labels.iter().any(|l| l.starts_with("Revenue in ")
            && l.ends_with(&format!("(1 of {currencies} currencies)"))),
        "{labels:?}"
    );
    assert!(labels.contains(&"Events / s, last minute"), "{labels:?}");
    let rate = js(c, "return document.getElementById('fig-rate').textContent").await;
    let rate: f64 = rate.as_str().unwrap().replace(',', "").parse().unwrap();
    let window_rate = overview["events_per_second"].as_f64().unwrap();
    assert!(
        rate > 5.0 * window_rate,
        "3,000 events in the last minute or so: {rate}/s now, {window_rate}/s over the hour"
    );

    // A detection with its typology and an analyst's verdict, and the precision
    // verdicts give each typology.
    let shown = js(
        c,
        "const detections = [{detected_at: '2026-03-01T12:00:00Z', user_id: 'u7', amount: '400.00', currency: 'EUR', score: 74,
           indicators: [{name: 'login_failures'}], typologies: [{name: 'account_takeover', score: 74}],
           verdict: {verdict: 'false_positive'}}];
         const fraud_precision = {by_typology: {account_takeover: {confirmed: 3, false_positive: 1, precision: 0.75}}};
         render({...lastUpdate, detections, fraud_precision});
         const cells = (id) => [...document.querySelectorAll(id + ' tr')].map(tr => [...tr.children].map(td => td.textContent));
         return [cells('#detections'), cells('#precision')];",
    )
    .await;
    assert_eq!(shown[0][0][4], "account_takeover", "{shown}");
    assert_eq!(shown[0][0][5], "false positive", "{shown}");
    assert_eq!(
        shown[1][0],
        serde_json::json!(["account_takeover", "75 %", "3", "1"]),
        "{shown}"
    );

    // 150 alerts of one rule (one per user) and nine other rules: one row per
    // rule, at most eight, and a row counting the rest.
    let rows = js(
        c,
        "const alerts = [];
         for (let i = 0; i < 150; i++) alerts.push({status: 'firing', severity: 'P2', rule: 'FraudScoreHigh', summary: 'fraud score 90 for user u' + i});
         for (let r = 0; r < 9; r++) alerts.push({status: 'pending', severity: 'P3', rule: 'Rule' + r, summary: 'rule ' + r});
         render({...lastUpdate, alerts});
         return [...document.querySelectorAll('#alerts tr')].map(tr => [...tr.children].map(td => td.textContent));",
    )
    .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9, "{rows:?}");
    assert_eq!(rows[0][2], "FraudScoreHigh");
    assert!(
        rows[0][3].as_str().unwrap().starts_with("150 alerts"),
        "{rows:?}"
    );
    assert_eq!(rows[8][2], "2 more rules", "{rows:?}");
    let figure = js(
        c,
        "return document.getElementById('fig-alerts').textContent",
    )
    .await;
    assert_eq!(figure, json!("150 / 9"));

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

    explorer(&api, c).await;
    issues(&api, c).await;
    acknowledge(&api, c).await;

    let shot = c.screenshot().await.expect("a screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, shot).expect("screenshot saved");
    browser.close().await;
}

/// The issues: the list as the API gives it, an issue's page with its latest
/// events, a decision refused to a reader and made by an operator.
async fn issues(api: &ApiStack, c: &Client) {
    let window = js(c, "return document.getElementById('window').value").await;
    // The list refreshes every 15 s; the tail above added errors since.
    js(c, "loadIssues(); return true").await;
    let listed = api
        .get(&format!(
            "/api/issues?window={}&limit=25",
            window.as_str().unwrap()
        ))
        .await;
    let top = &listed.json["issues"][0];
    let id = top["id"].as_str().expect("an unresolved issue").to_owned();
    let first = page_shows(
        c,
        "const r = document.querySelector('#issues tr[data-id]'); return r ? r.dataset.id : null",
        &json!(id),
    )
    .await;
    assert_eq!(first, json!(id), "the page lists what the API lists");
    click(c, "#issues tr[data-id]").await;
    let title = format!(
        "{}: {}",
        top["error_type"].as_str().unwrap(),
        top["title"].as_str().unwrap()
    );
    let shown = page_shows(
        c,
        "const h = document.querySelector('#issue h3'); return h ? h.textContent : null",
        &json!(title),
    )
    .await;
    assert_eq!(shown, json!(title), "the issue's page");
    let samples = js(c, "return document.querySelectorAll('#issue .hit').length").await;
    assert_eq!(
        samples.as_u64().unwrap(),
        top["count"].as_u64().unwrap().min(10),
        "its latest events"
    );
    // A reader may look, not decide.
    click(c, "#issue .actions button[data-status=resolved]").await;
    let refused = page_shows(
        c,
        "return document.querySelector('#issue .decision').textContent.includes('operator')",
        &json!(true),
    )
    .await;
    assert_eq!(refused, json!(true), "a reader cannot resolve");
    // An operator can; the issue's address survives the reload.
    js(
        c,
        &format!("localStorage.setItem('sightline.key', '{OPERATOR_KEY}'); location.reload(); return true"),
    )
    .await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#issue .actions button[data-status=resolved]"))
        .await
        .expect("the issue's page again");
    click(c, "#issue .actions button[data-status=resolved]").await;
    let status = page_shows(
        c,
        "const s = document.querySelector('#issue div.status'); return s ? s.textContent : null",
        &json!("resolved"),
    )
    .await;
    assert_eq!(status, json!("resolved"));
    let now = api.get(&format!("/api/issues/{id}?window=1h")).await;
    assert_eq!(now.json["status"], "resolved", "{}", now.text);
    assert_eq!(now.json["history"][0]["by"], "the page");
}

/// A failing service's alert acknowledged from the page (the operator's key is
/// in use since the issues), and the page then says by whom.
async fn acknowledge(api: &ApiStack, c: &Client) {
    let sent = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            crate::api::alerts::error_burst(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let button = "[...document.querySelectorAll('#alerts tr')].some(tr => tr.children[2] && tr.children[2].textContent === 'HighErrorRate' && tr.querySelector('button.ack'))";
    let shown = page_shows(c, &format!("return {button}"), &json!(true)).await;
    assert_eq!(shown, json!(true), "HighErrorRate with its button");
    js(
        c,
        "[...document.querySelectorAll('#alerts tr')].find(tr => tr.children[2].textContent === 'HighErrorRate').querySelector('button.ack').click(); return true",
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            let active = api.get("/api/alerts/active").await;
            active.json["acknowledged"]
                .as_object()
                .is_some_and(|acks| acks.values().any(|a| a["by"] == "the page"))
        })
        .await,
        "the page's acknowledgement is stored: {}",
        api.get("/api/alerts/active").await.text
    );
    let said = page_shows(
        c,
        "const s = document.querySelector('#alerts .acked'); return s ? s.textContent : null",
        &json!("acknowledged by the page"),
    )
    .await;
    assert_eq!(said, json!("acknowledged by the page"));
}

/// Clicks the element `css` matches.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The explorer, after a search for `payment`: the histogram holds every hit, a
/// facet narrows the query, a hit opens to its event and what is around it, a
/// figure explores its events, and the live tail shows a record as it arrives.
async fn explorer(api: &ApiStack, c: &Client) {
    let total = || async {
        let said = js(
            c,
            "return document.getElementById('search-total').textContent",
        )
        .await;
        said.as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .replace(',', "")
            .parse::<u64>()
            .unwrap()
    };
    let bars = page_shows(
        c,
        "return [...document.querySelectorAll('#histogram rect')].reduce((n, r) => n + Number(r.dataset.count), 0) > 0",
        &json!(true),
    )
    .await;
    assert_eq!(bars, json!(true), "histogram bars");
    let in_bars = js(
        c,
        "return [...document.querySelectorAll('#histogram rect')].reduce((n, r) => n + Number(r.dataset.count), 0)",
    )
    .await;
    assert_eq!(
        in_bars.as_u64().unwrap(),
        total().await,
        "every hit is in a bar"
    );

    // A facet value narrows the query to it.
    let service = js(
        c,
        "return document.querySelector('#facets .facet[data-field=service] a').dataset.value",
    )
    .await;
    let service = service.as_str().unwrap().to_owned();
    click(c, "#facets .facet[data-field=service] a").await;
    let want = json!(format!("(payment) AND service:{service}"));
    let query = page_shows(
        c,
        "return document.getElementById('search-input').value",
        &want,
    )
    .await;
    assert_eq!(query, want);
    let services = page_shows(
        c,
        &format!(
            "return [...document.querySelectorAll('#search-results > .hit > .meta')].every(m => m.textContent.endsWith(' · {service}'))"
        ),
        &json!(true),
    )
    .await;
    assert_eq!(services, json!(true), "every hit is of {service}");

    // A hit opens to its whole event, then to what happened around it.
    click(c, "#search-results > .hit").await;
    let shown = page_shows(
        c,
        "const pre = document.querySelector('#search-results .details pre.event');
         return pre ? JSON.parse(pre.textContent).id === document.querySelector('#search-results > .hit').dataset.id : null",
        &json!(true),
    )
    .await;
    assert_eq!(shown, json!(true), "the hit's own event");
    click(c, "#search-results .details button.context").await;
    let around = page_shows(
        c,
        "return document.querySelectorAll('#search-results .around .hit.self').length",
        &json!(1),
    )
    .await;
    assert_eq!(around, json!(1), "the event itself among its context");
    let neighbours = js(
        c,
        "return document.querySelectorAll('#search-results .around .hit').length",
    )
    .await;
    assert!(neighbours.as_u64().unwrap() >= 2, "{neighbours}");

    // A figure explores the events behind it.
    click(c, "#figures .figure.link[data-query='kind:error']").await;
    let errors = page_shows(
        c,
        "return document.getElementById('search-input').value === 'kind:error'
            && document.querySelectorAll('#search-results > .hit').length > 0
            && [...document.querySelectorAll('#search-results > .hit > .meta')].every(m => m.textContent.includes(' · error · '))",
        &json!(true),
    )
    .await;
    assert_eq!(errors, json!(true), "the error figure shows errors");

    // The patterns of the query's messages, as the API lists them; each row's
    // trend holds its count, and a click explores the pattern's events.
    let listed = page_shows(
        c,
        "return document.getElementById('patterns-note').textContent.endsWith('matching the query')
            && document.querySelectorAll('#patterns tr[data-id]').length > 0",
        &json!(true),
    )
    .await;
    assert_eq!(listed, json!(true), "the patterns of kind:error");
    let window = js(c, "return document.getElementById('window').value").await;
    let api_top = api
        .get(&format!(
            "/api/patterns?window={}&limit=20&q=kind:error",
            window.as_str().unwrap()
        ))
        .await;
    let top = &api_top.json["patterns"][0];
    let row = js(
        c,
        "const r = document.querySelector('#patterns tr[data-id]');
         return [r.dataset.id, r.querySelector('td.count').textContent,
                 [...r.querySelectorAll('svg.spark rect')].reduce((n, b) => n + Number(b.dataset.count), 0)]",
    )
    .await;
    let count = top["count"].as_u64().unwrap();
    assert_eq!(row[0], top["id"], "{row} vs {top}");
    assert_eq!(row[1].as_str().unwrap().replace(',', ""), count.to_string());
    assert_eq!(
        row[2].as_u64().unwrap(),
        count,
        "the trend holds every event"
    );
    click(c, "#patterns tr[data-id]").await;
    let want = json!(format!("pattern:{}", top["id"].as_str().unwrap()));
    let query = page_shows(
        c,
        "return document.getElementById('search-input').value",
        &want,
    )
    .await;
    assert_eq!(query, want);
    let explored = page_shows(
        c,
        &format!(
            "return document.getElementById('search-total').textContent === '{} matching events'",
            count
        ),
        &json!(true),
    )
    .await;
    assert_eq!(explored, json!(true), "the pattern's {count} events");

    // The live tail shows a matching record as it arrives.
    c.find(Locator::Css("#search-input"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    c.find(Locator::Css("#search-input"))
        .await
        .unwrap()
        .send_keys("service:tail-demo AND severity:error")
        .await
        .unwrap();
    click(c, "#tail-toggle").await;
    let following = page_shows(
        c,
        "return document.getElementById('tail-status').textContent",
        &json!("following…"),
    )
    .await;
    assert_eq!(following, json!("following…"));
    let record = |severity, message: &str| {
        let event = sightline_schemas::Event::new(
            "tail-demo",
            sightline_schemas::Body::Log(sightline_schemas::LogRecord::new(severity, message)),
        );
        serde_json::to_vec(&event).unwrap()
    };
    let mut seen = json!(null);
    for _ in 0..20 {
        for (severity, message) in [
            (sightline_schemas::Severity::Info, "tail: all good"),
            (sightline_schemas::Severity::Error, "tail: disk full"),
        ] {
            let reply = api
                .post(
                    "/api/logs/ingest",
                    "application/json",
                    record(severity, message),
                    Some(OPERATOR_KEY),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
        seen = js(
            c,
            "return [...document.querySelectorAll('#tail-results .hit')].map(h => h.textContent)",
        )
        .await;
        if !seen.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seen = seen.as_array().unwrap();
    assert!(!seen.is_empty(), "the tail showed nothing");
    assert!(
        seen.iter()
            .all(|t| t.as_str().unwrap().contains("tail: disk full")),
        "{seen:?}"
    );
    click(c, "#tail-toggle").await;
}
