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

# Start a throwaway NATS server with the streams applied, for trying the CLI by hand.
nats port="4222": setup
    mkdir -p data/nats && nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats
