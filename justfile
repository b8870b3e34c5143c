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
    ./target/release/sightline bench publish
    ./target/release/sightline bench indexer
    ./target/release/sightline bench fraud
    ./target/release/sightline bench counters
    ./target/release/sightline bench api

# Start a throwaway NATS server with the streams applied, for trying the CLI by hand.
nats port="4222": setup
    mkdir -p data/nats && nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats

# The main job on one machine, until `sightline up` lands: NATS and Redis servers under
# ./data, the streams, every worker and the API, seeded traffic through the real
# Publisher, then searches, fraud detections, counters and alerts; in a terminal it keeps
# running with the dashboard on http://127.0.0.1:<api>/ until Ctrl-C.
demo events="20000" port="4222" redis="6379" api="8080": setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p sightline-cli
    sl=./target/release/sightline
    mkdir -p data
    nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats > data/nats.log 2>&1 &
    pids=$!
    trap 'kill $pids 2>/dev/null; wait 2>/dev/null' EXIT
    mkdir -p data/redis
    redis-server --port {{redis}} --bind 127.0.0.1 --save '' --appendonly yes --dir data/redis > data/redis.log 2>&1 &
    pids="$pids $!"
    export SIGHTLINE_NATS__URL=nats://127.0.0.1:{{port}}
    export SIGHTLINE_REDIS__URL=redis://127.0.0.1:{{redis}}
    for p in {{port}} {{redis}}; do
        for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
    done
    $sl streams apply
    $sl worker indexer > data/indexer.log 2>&1 &
    pids="$pids $!"
    $sl worker fraud > data/fraud.log 2>&1 &
    pids="$pids $!"
    $sl worker fraud-store > data/fraud-store.log 2>&1 &
    pids="$pids $!"
    $sl worker counters > data/counters.log 2>&1 &
    pids="$pids $!"
    SIGHTLINE_ALERTS__INTERVAL=1s $sl worker alerts > data/alerts.log 2>&1 &
    pids="$pids $!"
    $sl api --listen 127.0.0.1:{{api}} > data/api.log 2>&1 &
    pids="$pids $!"
    # The last couple of minutes of a shop's traffic (the counters and alerts look at now).
    $sl generate --count {{events}} --start "$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:%SZ)" --publish
    expected=$($sl streams status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["messages"])')
    for _ in $(seq 300); do [ "$($sl search --count 2>/dev/null || echo 0)" -ge "$expected" ] && break; sleep 0.2; done
    $sl streams status
    echo "indexed: $($sl search --count) of $expected events"
    $sl search connection pool --kind error --size 3
    $sl search payment failed --size 3
    # Caught up when the scorer and the store have nothing pending.
    idle='import json,sys; c=[c for s in json.load(sys.stdin) for c in s["consumers"] if c["name"] in ("fraud","fraud-store","counters","counters-fraud")]; print(int(len(c)==4 and all(x["pending"]+x["ack_pending"]==0 for x in c)))'
    for _ in $(seq 300); do [ "$($sl streams status --json | python3 -c "$idle")" = 1 ] && break; sleep 0.2; done
    $sl fraud stats
    $sl fraud list --min-score 80 --limit 3
    $sl counters by:kind --window 10m
    $sl counters revenue --window 10m
    $sl counters latency --window 10m
    $sl counters users --window 10m
    sleep 2
    summary='import json,sys,collections; a=json.load(sys.stdin)["alerts"]; print(len(a), "active alerts"); [print(f"  {n:>5}  {r}") for r, n in collections.Counter(x["rule"] + " (" + x["status"] + ")" for x in a).most_common()]'
    $sl alerts list --json | python3 -c "$summary"
    echo "overview of the last 10 minutes, from the API:"
    curl -sf "http://127.0.0.1:{{api}}/api/dashboard/overview?window=10m" | python3 -m json.tool
    if [ -t 0 ]; then
        echo "dashboard: http://127.0.0.1:{{api}}/   (Ctrl-C stops everything)"
        wait
    fi

