"""Schemathesis hooks for the API contract test: NDJSON, one JSON value per line,
for `POST /api/logs/ingest` with `Content-Type: application/x-ndjson`."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, (bytes, str)):
        return value.encode() if isinstance(value, str) else value
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
