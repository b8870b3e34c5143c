# Sightline tasks. `ops/install.sh` puts just itself in .tools/venv/bin.
set shell := ["bash", "-euo", "pipefail", "-c"]
export PATH := justfile_directory() + "/.tools/venv/bin:" + env_var("PATH")

# Install the servers and tools the tests need (idempotent).
setup:
    ops/install.sh

# Build once, then run every test against real servers.
test: setup
    cargo build --workspace --bins --tests
    cargo test --workspace

# Formatting, lints (warnings are errors) and the stale-JSON-Schema check.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate schemas/json/ from the Rust types.
schemas:
    UPDATE_JSON_SCHEMAS=1 cargo test -p sightline-schemas --test json_schema

# Benchmarks print JSON; they start their own servers. Not part of CI.
bench: setup
    cargo build --release -p sightline-cli
    for b in publish indexer fraud counters api pipeline; do "${CARGO_TARGET_DIR:-target}/release/sightline" bench $b; done

# Start a throwaway NATS server with the streams applied, for trying the CLI by hand.
nats port="4222": setup
    mkdir -p data/nats && nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats

# The main job on one machine: `sightline up` (NATS and Redis under ./data, the streams,
# every worker and the API), a backlog of the last minutes of traffic, then live traffic
# from `sightline generate --rate`; prints what the projections hold and the dashboard URL,
# and in a terminal keeps running until Ctrl-C.
demo rate="200" events="20000" api="8080" nats="4222" redis="6379": setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p sightline-cli
    sl="${CARGO_TARGET_DIR:-target}/release/sightline"
    mkdir -p data
    SIGHTLINE_ALERTS__INTERVAL=2s $sl up --listen 127.0.0.1:{{api}} --nats-port {{nats}} --redis-port {{redis}} > data/up.log 2>&1 &
    up=$!
    trap 'kill -TERM $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT
    api=http://127.0.0.1:{{api}}
    for _ in $(seq 300); do curl -sf "$api/readyz" > /dev/null && break; sleep 0.2; done
    curl -sf "$api/readyz" > /dev/null || { cat data/up.log; exit 1; }
    export SIGHTLINE_NATS__URL=nats://127.0.0.1:{{nats}}
    # The last couple of minutes of a shop's traffic, ending now (the counters and alerts look at now).
    # A third of it the services' own log records (request lines, errors, housekeeping).
    $sl generate --count {{events}} --log-share 0.3 --publish
    $sl generate --rate {{rate}} --count 1000000000 --seed 43 --log-share 0.3 --publish > data/generate.log 2>&1 &
    last=$(curl -sf "$api/api/ops/watermarks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["logs"])')
    curl -sf -H "Sightline-Wait-For: $last" "$api/api/search?q=payment+failed&size=3&highlight=false" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["total"], "events match \"payment failed\", e.g.:"); [print("  ", h["message"]) for h in r["hits"]]'
    curl -sf -H "Sightline-Wait-For: $last" "$api/api/search?q=kind:log+AND+severity:error+AND+timed+out&size=2&highlight=false" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["total"], "error logs match kind:log AND severity:error AND timed out, e.g.:"); [print("  ", h["message"]) for h in r["hits"]]'
    curl -sf -H "Sightline-Wait-For: $last" "$api/api/patterns?window=10m&limit=3" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["total"], "events in", len(r["patterns"]), "top patterns, e.g.:"); [print("  ", p["count"], p["template"]) for p in r["patterns"]]'
    curl -sf -H "Sightline-Wait-For: $last" "$api/api/issues?window=10m&sort=count&limit=3" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("top error issues:"); [print("  ", i["id"], i["count"], "on", i["latest"]["service"] + ":", (i["error_type"] + ": " if i["error_type"] else "") + i["title"]) for i in r["issues"]]'
    echo "overview of the last 10 minutes, from the API:"
    curl -sf -H "Sightline-Wait-For: $last" "$api/api/dashboard/overview?window=10m" | python3 -m json.tool
    sleep 3
    curl -sf "$api/api/alerts/active" | python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["firing"], "alerts firing,", a["pending"], "pending")'
    echo "dashboard: $api/   (live traffic at {{rate}} events/s; logs in data/)"
    if [ -t 0 ]; then
        echo "Ctrl-C stops everything."
        wait $up
    fi
