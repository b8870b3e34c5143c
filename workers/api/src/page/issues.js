// The page's issues: errors grouped by fingerprint (docs/issues.md), a list
// filtered by status, and an issue's own page (`#issue=<id>`) with its figures,
// where it happens, its latest events, the decisions on it and the buttons that
// make one. It uses the page's `$`, `headers`, `needKey`, `num`, and the
// explorer's `getJson`, `sparkline`, `hitRow` and `windowSeconds`.
"use strict";

async function loadIssues() {
  const params = new URLSearchParams({ window: $("window").value, status: $("issue-status").value, limit: "25" });
  try {
    const found = await getJson("/api/issues?" + params);
    if (!found) return;
    const tbody = $("issues");
    if (!found.issues.length) {
      const tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 6; td.className = "empty"; td.textContent = "no issues in this window";
      tr.appendChild(td); tbody.replaceChildren(tr); return;
    }
    const barSecs = Math.max(1, Math.round(windowSeconds() / 24));
    tbody.replaceChildren(...found.issues.map((i) => issueRow(i, barSecs)));
  } catch (e) {
    $("issues-note").textContent = e.message;
  }
}

function statusText(i) { return i.regressed ? "regressed" : i.status; }

function issueRow(i, barSecs) {
  const tr = document.createElement("tr"); tr.dataset.id = i.id;
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  const trend = document.createElement("td"); trend.appendChild(sparkline(i.trend, barSecs));
  tr.append(cell(`${i.error_type}: ${i.title}`, "title"), cell(num(i.count), "count"), cell(num(i.users)), trend,
    cell(new Date(i.last_seen).toLocaleTimeString()), cell(statusText(i), "status " + statusText(i)));
  tr.addEventListener("click", () => { location.hash = "issue=" + i.id; });
  return tr;
}

// The issue of the page's address, if it names one.
async function showIssue() {
  const m = /^#issue=([0-9a-f]{16})$/.exec(location.hash);
  const box = $("issue");
  if (!m) { box.hidden = true; return; }
  box.hidden = false;
  try {
    const i = await getJson(`/api/issues/${m[1]}?window=${encodeURIComponent($("window").value)}`);
    if (!i) return;
    const el = (tag, text, cls) => { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; };
    const facts = el("div", null, "meta");
    facts.textContent = [`${num(i.count)} events in the window, ${num(i.total)} kept`, `${num(i.users)} users`,
      `first seen ${i.first_seen}`, `last seen ${i.last_seen}`,
      "services " + i.services.map((b) => b.key).join(", "), "envs " + i.envs.map((b) => b.key).join(", "),
      "hosts " + i.hosts.map((b) => b.key).join(", ")].join(" · ");
    const buttons = el("div", null, "actions");
    for (const [label, status] of [["Resolve", "resolved"], ["Ignore", "ignored"], ["Reopen", "unresolved"]]) {
      const b = el("button", label); b.dataset.status = status;
      b.addEventListener("click", () => decide(i.id, status));
      buttons.appendChild(b);
    }
    const history = el("ul", null, "history");
    for (const h of i.history) history.appendChild(el("li", `${h.at} ${h.status} by ${h.by || "?"}${h.note ? ": " + h.note : ""}`));
    const explore = el("a", "Explore its events"); explore.href = "#";
    explore.addEventListener("click", (e) => { e.preventDefault(); explore_(i.id); });
    box.replaceChildren(el("h3", `${i.error_type}: ${i.title}`), el("div", statusText(i), "status " + statusText(i)),
      el("div", i.culprit ? "at " + i.culprit : "", "culprit"), facts, buttons, el("p", "", "decision"),
      history, explore, el("h3", "Latest events"), ...i.samples.map((h) => hitRow(h, true)));
  } catch (e) {
    box.replaceChildren(document.createTextNode(e.message));
  }
}

function explore_(id) { explore(`issue:${id}`); $("explorer").scrollIntoView(); }

async function decide(id, status) {
  const said = $("issue").querySelector(".decision");
  try {
    const response = await fetch(`/api/issues/${id}/status`, {
      method: "POST", headers: { ...headers(), "Content-Type": "application/json" },
      body: JSON.stringify({ status, by: "the page" }),
    });
    const body = await response.json();
    if (!response.ok) { said.textContent = body.error ? body.error.message : "HTTP " + response.status; return; }
    await showIssue();
    loadIssues();
  } catch (e) { said.textContent = e.message; }
}

function initIssues() {
  $("issue-status").addEventListener("change", loadIssues);
  window.addEventListener("hashchange", showIssue);
  loadIssues();
  showIssue();
  setInterval(loadIssues, 15000);
}
