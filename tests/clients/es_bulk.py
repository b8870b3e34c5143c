"""Sends documents to Sightline's `_bulk` with the official Elasticsearch Python client,
as Logstash and Beats speak it: `helpers.bulk`. Used by tests/tests/e2e/bulk.rs.

Usage: es_bulk.py URL API_KEY INDEX
Prints one JSON line: {"version": ..., "ok": N, "errors": [[status, reason], ...]}.
"""

import json
import sys

from elasticsearch import Elasticsearch, helpers


def main():
    url, key, index = sys.argv[1:4]
    # As Beats and Logstash sign in: a user and a password, the key being the password.
    client = Elasticsearch(url, basic_auth=("logstash", key), request_timeout=30)
    version = client.info()["version"]["number"]
    docs = [
        {
            "@timestamp": "2026-12-07T10:00:00.000Z",
            "message": "GET /cart 200 12ms",
            "log": {"level": "info", "logger": "nginx.access"},
            "service": {"name": "storefront"},
            "host": {"name": "edge-1"},
            "http": {"response": {"status_code": 200}},
        },
        {
            "@timestamp": "2026-12-07T10:00:01.000Z",
            "message": "upstream timed out after 3000 ms",
            "log.level": "ERROR",
            "service.name": "storefront",
            "trace.id": "5b8efff798038103d269b633813fc60c",
            "error": {"type": "Timeout", "stack_trace": "at proxy_pass()\nat handler()"},
        },
        # Refused by the validator: a time before 2000.
        {"@timestamp": "1999-01-01T00:00:00Z", "message": "from the past", "service.name": "storefront"},
    ]
    actions = [{"_index": index, "_source": d} for d in docs]
    ok, errors = helpers.bulk(client, actions, raise_on_error=False, stats_only=False)
    failed = [
        [e["index"]["status"], e["index"]["error"]["reason"]] for e in errors
    ]
    print(json.dumps({"version": version, "ok": ok, "errors": failed}), flush=True)


if __name__ == "__main__":
    main()
