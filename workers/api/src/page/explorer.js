// The page's log explorer: a query in the language of docs/search.md, the count
// of its hits over time, the top values of a few fields (a click narrows the
// query), hits that open to the whole event and what happened around it, a
// live tail, and the patterns of the query's messages (a click explores one).
// It uses the page's `$`, `headers`, `needKey`, `num` and `pct`.
"use strict";

// Server-sent events read through fetch, so the API key can travel in a header.
// Calls `onEvent(name, data)` per event until the stream ends or is cancelled.
async function readEvents(response, onEvent, onReader) {
  const reader = response.body.getReader();
  if (onReader) onReader(reader);
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      onEvent(event, data);
    }
  }
}

const explorer = { tail: null };

// The page's window in seconds; the explorer looks at it, in sixty bars.
const BARS = 60;
function windowSeconds() {
  return { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400 }[$("window").value] || 3600;
}
function histogramInterval() { return Math.max(1, Math.round(windowSeconds() / BARS)); }

async function getJson(url) {
  const response = await fetch(url, { headers: headers() });
  if (response.status === 401 || response.status === 403) { needKey(); return null; }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : "HTTP " + response.status);
  return body;
}

// Runs `q` (the search box's text when none is given).
async function explore(q) {
  if (q !== undefined) $("search-input").value = q;
  q = $("search-input").value.trim();
  const since = new Date(Date.now() - windowSeconds() * 1000);
  explorer.since = since.getTime();
  const params = new URLSearchParams({ q, since: since.toISOString(), size: "20", highlight: "true", sort: q ? "relevance" : "newest" });
  const facetParams = new URLSearchParams({ q, since: since.toISOString(), interval: String(histogramInterval()) });
  try {
    const [found, facets] = await Promise.all([
      getJson("/api/search?" + params), getJson("/api/search/facets?" + facetParams)]);
    if (!found || !facets) return;
    $("search-total").textContent = num(found.total) + " matching events";
    $("search-results").replaceChildren(...found.hits.map((hit) => hitRow(hit, true)));
    histogram(facets.histogram);
    facetLists(facets.facets);
  } catch (e) {
    $("search-total").textContent = e.message;
    $("search-results").replaceChildren();
  }
  if (explorer.tail) startTail();
  loadPatterns();
}

// The top patterns of the query's messages over the page's window.
async function loadPatterns() {
  const q = $("search-input").value.trim();
  const params = new URLSearchParams({ window: $("window").value, limit: "20" });
  if (q) params.set("q", q);
  try {
    const found = await getJson("/api/patterns?" + params);
    if (!found) return;
    $("patterns-note").textContent = `${num(found.total)} events${q ? " matching the query" : ""}`;
    const tbody = $("patterns");
    if (!found.patterns.length) {
      const tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 5; td.className = "empty"; td.textContent = "no patterns in this window";
      tr.appendChild(td); tbody.replaceChildren(tr); return;
    }
    tbody.replaceChildren(...found.patterns.map((p) => patternRow(p, found.bar_secs)));
  } catch (e) {
    $("patterns-note").textContent = e.message;
  }
}

function patternRow(p, barSecs) {
  const tr = document.createElement("tr"); tr.dataset.id = p.id;
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  const trend = document.createElement("td"); trend.appendChild(sparkline(p.trend, barSecs));
  tr.append(cell(p.template, "template"), cell(num(p.count), "count"), cell(pct(p.share)), trend,
    cell(new Date(p.last_seen).toLocaleTimeString()));
  tr.title = `first seen ${p.first_seen || "?"}; latest: ${p.sample.message}`;
  tr.addEventListener("click", () => { explore(`pattern:${p.id}`); $("explorer").scrollIntoView(); });
  return tr;
}

// A pattern's events per bar over the window, as tiny bars.
function sparkline(buckets, barSecs) {
  const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark"); svg.setAttribute("viewBox", "0 0 120 20");
  const since = Date.now() - windowSeconds() * 1000, slots = Math.ceil(windowSeconds() / barSecs) + 1;
  const top = Math.max(1, ...buckets.map((b) => b.count));
  for (const b of buckets) {
    const r = document.createElementNS(ns, "rect"), h = Math.max(1, (b.count / top) * 19);
    const x = Math.max(0, (Date.parse(b.key) - since) / (barSecs * 1000)) * (120 / slots);
    r.setAttribute("x", x.toFixed(1)); r.setAttribute("width", Math.max(1, 120 / slots - 0.5).toFixed(1));
    r.setAttribute("y", (20 - h).toFixed(1)); r.setAttribute("height", h.toFixed(1)); r.setAttribute("fill", "#c38bff");
    r.dataset.count = b.count;
    svg.appendChild(r);
  }
  return svg;
}

function hitRow(hit, expandable) {
  const d = document.createElement("div"); d.className = "hit";
  d.dataset.id = hit.id;
  const meta = document.createElement("div"); meta.className = "meta";
  const severity = hit.event && hit.event.payload && hit.event.payload.severity;
  meta.textContent = `${hit.occurred_at} · ${hit.kind}${severity ? " · " + severity : ""} · ${hit.service}`;
  const text = document.createElement("div");
  // Highlights are HTML-escaped by the server except for the <em> around matches.
  if (hit.highlights && hit.highlights.length) text.innerHTML = hit.highlights.join(" … ");
  else text.textContent = hit.message;
  d.append(meta, text);
  if (expandable) {
    d.classList.add("expandable");
    d.addEventListener("click", (e) => { if (!e.target.closest(".details")) toggleDetails(d, hit); });
  }
  return d;
}

// The whole event, and a button for what happened around it.
function toggleDetails(row, hit) {
  const open = row.querySelector(".details");
  if (open) { open.remove(); return; }
  const box = document.createElement("div"); box.className = "details";
  const pre = document.createElement("pre"); pre.className = "event";
  pre.textContent = JSON.stringify(hit.event, null, 2);
  const button = document.createElement("button"); button.className = "context"; button.textContent = "Around it";
  const around = document.createElement("div"); around.className = "around";
  button.addEventListener("click", async () => {
    try {
      const c = await getJson(`/api/logs/${hit.id}/context?size=5`);
      if (!c) return;
      const title = document.createElement("div"); title.className = "meta";
      title.textContent = c.by === "trace" ? "the same trace" : "the same service, just before and after";
      const self = hitRow(c.event, false); self.classList.add("self");
      around.replaceChildren(title, ...c.before.map((h) => hitRow(h, false)), self, ...c.after.map((h) => hitRow(h, false)));
    } catch (e) { around.textContent = e.message; }
  });
  box.append(pre, button, around);
  row.appendChild(box);
}

// Bars of hits per interval, as SVG rectangles.
function histogram(buckets) {
  const svg = $("histogram"), ns = "http://www.w3.org/2000/svg";
  const w = svg.clientWidth || 600, h = svg.clientHeight || 60;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.replaceChildren();
  if (!buckets.length) return;
  // The window ends now; a bar whose interval began before it starts at 0.
  const times = buckets.map((b) => Date.parse(b.key));
  const step = histogramInterval() * 1000;
  const slots = BARS + 1;
  const top = Math.max(...buckets.map((b) => b.count)) || 1;
  const width = Math.max(1, w / slots - 1);
  buckets.forEach((b, i) => {
    const bar = document.createElementNS(ns, "rect");
    const x = Math.max(0, (times[i] - explorer.since) / step) * (w / slots);
    const bh = Math.max(1, (b.count / top) * (h - 2));
    bar.setAttribute("x", x.toFixed(1)); bar.setAttribute("width", width.toFixed(1));
    bar.setAttribute("y", (h - bh).toFixed(1)); bar.setAttribute("height", bh.toFixed(1));
    bar.setAttribute("fill", "#4fb3ff");
    bar.dataset.count = b.count;
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `${new Date(times[i]).toLocaleTimeString()}: ${num(b.count)}`;
    bar.appendChild(tip);
    svg.appendChild(bar);
  });
}

// A value in the query language: quoted unless it is one plain word.
function quoted(value) {
  return /^[\w.\-\/]+$/.test(value) ? value : '"' + value.replace(/["\\]/g, "\\$&") + '"';
}

function facetLists(facets) {
  $("facets").replaceChildren(...Object.entries(facets).map(([field, buckets]) => {
    const box = document.createElement("div"); box.className = "facet"; box.dataset.field = field;
    const title = document.createElement("div"); title.className = "meta"; title.textContent = field;
    box.appendChild(title);
    if (!buckets.length) { const none = document.createElement("div"); none.className = "empty"; none.textContent = "–"; box.appendChild(none); }
    for (const b of buckets) {
      const a = document.createElement("a"); a.href = "#"; a.className = "facet-value";
      a.dataset.value = b.key;
      a.textContent = `${b.key} (${num(b.count)})`;
      a.addEventListener("click", (e) => {
        e.preventDefault();
        const q = $("search-input").value.trim();
        const clause = `${field}:${quoted(b.key)}`;
        explore(q ? `(${q}) AND ${clause}` : clause);
      });
      box.appendChild(a);
    }
    return box;
  }));
}

// The live tail: matching events as they are published, newest on top.
async function startTail() {
  stopTail();
  const q = $("search-input").value.trim();
  const state = { reader: null, stopped: false };
  explorer.tail = state;
  $("tail-status").textContent = "following…";
  try {
    const response = await fetch("/api/logs/tail?" + new URLSearchParams({ q, rate: "20" }), { headers: headers() });
    if (response.status === 401 || response.status === 403) return needKey();
    if (!response.ok) {
      const body = await response.json();
      $("tail-status").textContent = body.error ? body.error.message : "HTTP " + response.status;
      return;
    }
    await readEvents(response, (event, data) => {
      if (state.stopped) return;
      if (event === "log") {
        const list = $("tail-results");
        list.prepend(hitRow(JSON.parse(data), true));
        while (list.children.length > 200) list.lastChild.remove();
      } else if (event === "skipped") {
        $("tail-status").textContent = `following · ${num(JSON.parse(data).skipped)} events skipped (over 20 a second)`;
      }
    }, (reader) => { state.reader = reader; });
  } catch (e) {
    if (!state.stopped) $("tail-status").textContent = "the tail stopped: " + e.message;
  }
}

function stopTail() {
  const t = explorer.tail;
  explorer.tail = null;
  if (t) { t.stopped = true; if (t.reader) t.reader.cancel().catch(() => {}); }
  $("tail-status").textContent = "";
}

// Called by the page once its own helpers exist.
function initExplorer() {
  loadPatterns();
  setInterval(loadPatterns, 15000);
  $("tail-toggle").addEventListener("change", (e) => {
    if (e.target.checked) { $("tail-results").replaceChildren(); startTail(); } else stopTail();
  });
}
